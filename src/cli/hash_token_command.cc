// `tidegate hash-token`: the SHA-256 of a bearer token's secret for tidegated's `auth.tokens`
// (the daemon's config holds only hashes), or with --generate a new random token and its hash.
#include <CLI/CLI.hpp>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "cli/commands.h"
#include "fmt/format.h"
#include "tidegate/server/auth.h"

namespace tidegate::cli {

absl::Status RunHashTokenCommand(const HashTokenCommandOptions& options, std::istream& in,
                                 std::ostream& out) {
  if (options.generate) {
    absl::StatusOr<std::string> token = server::GenerateToken();
    if (!token.ok()) return token.status();
    out << "token:  " << *token << "\n"
        << "sha256: " << server::HashToHex(server::HashToken(*token)) << "\n";
    return absl::OkStatus();
  }
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // One trailing line end (echo, a file) is not part of the secret.
  if (secret.ends_with("\r\n")) {
    secret.resize(secret.size() - 2);
  } else if (secret.ends_with("\n")) {
    secret.pop_back();
  }
  if (secret.empty()) {
    return absl::InvalidArgumentError("stdin: no secret given (pipe it in, or use --generate)");
  }
  for (size_t i = 0; i < secret.size(); ++i) {
    const auto c = static_cast<unsigned char>(secret[i]);
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(fmt::format(
          "stdin: byte {} of the secret (0x{:02x}) cannot be sent in 'Authorization: Bearer "
          "<token>'; use visible ASCII without spaces",
          i, c));
    }
  }
  if (secret.size() < kMinTokenLength) {
    return absl::InvalidArgumentError(
        fmt::format("stdin: the secret has {} characters, at least {} are required (--generate "
                    "makes a 46-character one)",
                    secret.size(), kMinTokenLength));
  }
  out << server::HashToHex(server::HashToken(secret)) << "\n";
  return absl::OkStatus();
}

void RegisterHashTokenCommand(CLI::App& app) {
  auto options = std::make_shared<HashTokenCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "hash-token", "Print the SHA-256 of a token read from stdin, for auth.tokens[].sha256");
  cmd->add_flag("--generate", options->generate,
                "Print a new random token (256 bits, tg_ + base64url) and its SHA-256 instead");
  cmd->callback([options] {
    if (absl::Status s = RunHashTokenCommand(*options, std::cin, std::cout); !s.ok()) {
      std::cerr << "tidegate hash-token: " << s.message() << "\n";
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace tidegate::cli
