#include "server/compression.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace tidegate::server {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool HasHeader(const ApiResponse& r, std::string_view name) {
  return std::any_of(r.headers.begin(), r.headers.end(), [name](const auto& h) {
    return h.first.size() == name.size() &&
           std::equal(h.first.begin(), h.first.end(), name.begin(),
                      [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  });
}

}  // namespace

bool AcceptsGzip(std::string_view header) {
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view item = Trim(header.substr(0, comma));
    const size_t semi = item.find(';');
    const std::string_view coding = Trim(item.substr(0, semi));
    if (coding == "gzip" || coding == "*") {
      // A q-value of 0 refuses the coding; anything else (or none) accepts it.
      const size_t q = semi == std::string_view::npos ? semi : item.find("q=", semi);
      if (q == std::string_view::npos) return true;
      const std::string_view value = Trim(item.substr(q + 2));
      double weight = 1;
      std::from_chars(value.data(), value.data() + value.size(), weight);
      return weight > 0;
    }
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

absl::StatusOr<std::string> Gzip(std::string_view data, int level) {
  if (level < 1 || level > 9) {
    return absl::InvalidArgumentError(fmt::format("gzip level {}: must be in [1, 9]", level));
  }
  if (data.size() > std::numeric_limits<uInt>::max()) {
    return absl::InvalidArgumentError(
        fmt::format("gzip: {} bytes is more than zlib takes at once", data.size()));
  }
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("gzip: deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const size_t written = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return absl::InternalError(fmt::format("gzip: deflate returned {}", rc));
  out.resize(written);
  return out;
}

void CompressForClient(ApiResponse& r, std::string_view accept_encoding) {
  if (r.body.size() < kCompressMinBytes || HasHeader(r, "Content-Encoding") ||
      !AcceptsGzip(accept_encoding)) {
    return;
  }
  absl::StatusOr<std::string> gz = Gzip(r.body);
  if (!gz.ok()) return;  // Sent uncompressed: still a correct answer.
  r.body = *std::move(gz);
  r.headers.emplace_back("Content-Encoding", "gzip");
  r.headers.emplace_back("Vary", "Accept-Encoding");
}

}  // namespace tidegate::server
