// tidegate hash-token: the hash of a secret from stdin, --generate, and bad secrets.
#include <sstream>

#include "cli/commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tidegate/server/auth.h"

namespace tidegate::cli {
namespace {

using ::testing::HasSubstr;

std::string Hash(const std::string& stdin_text, absl::Status* status = nullptr) {
  std::istringstream in(stdin_text);
  std::ostringstream out;
  const absl::Status s = RunHashTokenCommand({}, in, out);
  if (status != nullptr) *status = s;
  return out.str();
}

TEST(HashTokenCommandTest, PrintsTheSha256OfStdinWithoutTheLineEnd) {
  // sha256("0123456789abcdef"), e.g. `printf 0123456789abcdef | sha256sum`.
  const std::string expected = "9f9f5111f7b27a781f1f1ddde5ebc2dd2b796bfc7365c9c28b548e564176929f\n";
  EXPECT_EQ(Hash("0123456789abcdef"), expected);
  EXPECT_EQ(Hash("0123456789abcdef\n"), expected);
  EXPECT_EQ(Hash("0123456789abcdef\r\n"), expected);
  EXPECT_EQ(Hash("0123456789abcdef\n"),
            server::HashToHex(server::HashToken("0123456789abcdef")) + "\n");
}

TEST(HashTokenCommandTest, RejectsSecretsThatCannotBeBearerTokens) {
  absl::Status s;
  EXPECT_EQ(Hash("", &s), "");
  EXPECT_THAT(s.message(), HasSubstr("no secret given"));
  Hash("short", &s);
  EXPECT_THAT(s.message(), HasSubstr("the secret has 5 characters, at least 16"));
  Hash("with a space in it, long enough", &s);
  EXPECT_THAT(s.message(), HasSubstr("byte 4 of the secret (0x20)"));
  Hash("two\nlines-long-enough-secret\n", &s);
  EXPECT_THAT(s.message(), HasSubstr("byte 3"));
}

TEST(HashTokenCommandTest, GeneratePrintsATokenAndItsHash) {
  std::istringstream in;
  std::ostringstream out;
  ASSERT_TRUE(RunHashTokenCommand({.generate = true}, in, out).ok());
  std::istringstream lines(out.str());
  std::string token_label, token, hash_label, hash;
  lines >> token_label >> token >> hash_label >> hash;
  EXPECT_EQ(token_label, "token:");
  EXPECT_EQ(hash_label, "sha256:");
  EXPECT_TRUE(token.starts_with("tg_"));
  EXPECT_EQ(token.size(), 46u);
  EXPECT_EQ(hash, server::HashToHex(server::HashToken(token)));
}

}  // namespace
}  // namespace tidegate::cli
