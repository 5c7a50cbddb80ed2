#include "server/web_assets.h"

#include <algorithm>
#include <charconv>
#include <string>

#include "fmt/format.h"
#include "server/compression.h"
#include "server/web_assets_data.h"

namespace tidegate::server::web {
namespace {

constexpr std::string_view kAssetsPrefix = "/assets/";

// The page loads only its own scripts and styles; uPlot and the dashboard set inline styles.
constexpr std::string_view kPageSecurityPolicy =
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// If-None-Match is "*" or a comma-separated list of entity tags, possibly weak (W/"...").
// Comparison is weak (RFC 9110 13.1.2), which is what a GET revalidation asks for.
bool EtagMatches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view tag = Trim(header.substr(0, comma));
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

const EmbeddedAsset* Find(std::string_view path) {
  const auto assets = EmbeddedAssets();
  const auto it =
      std::lower_bound(assets.begin(), assets.end(), path,
                       [](const EmbeddedAsset& a, std::string_view p) { return a.path < p; });
  return it != assets.end() && it->path == path ? &*it : nullptr;
}

}  // namespace

bool IsWebAssetPath(std::string_view target) {
  const std::string_view path = PathOf(target);
  return path == "/" || path == "/index.html" || path.starts_with(kAssetsPrefix);
}

ApiResponse ServeWebAsset(std::string_view method, std::string_view target,
                          std::string_view if_none_match, std::string_view accept_encoding) {
  std::string_view path = PathOf(target);
  if (method != "GET") {
    ApiResponse r = ErrorResponse(405, "INVALID_ARGUMENT",
                                  fmt::format("{} {}: method not allowed (use GET)", method, path));
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  const bool page = !path.starts_with(kAssetsPrefix);
  if (page) path = "/index.html";
  const EmbeddedAsset* asset = Find(path);
  if (asset == nullptr) {
    if (EmbeddedAssets().empty()) {
      return ErrorResponse(404, "NOT_FOUND",
                           "the dashboard is not built into this tidegated (it was configured "
                           "with -DTIDEGATE_BUILD_DASHBOARD=OFF); the API under /v1/ is served");
    }
    return ErrorResponse(404, "NOT_FOUND", fmt::format("{}: no such dashboard asset", path));
  }
  ApiResponse r;
  r.content_type = std::string(asset->content_type);
  r.headers.emplace_back("ETag", std::string(asset->etag));
  r.headers.emplace_back("Cache-Control",
                         page ? "no-cache" : "public, max-age=31536000, immutable");
  r.headers.emplace_back("Vary", "Accept-Encoding");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (page) {
    r.headers.emplace_back("Content-Security-Policy", std::string(kPageSecurityPolicy));
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  if (EtagMatches(if_none_match, asset->etag)) {
    r.status = 304;
    return r;
  }
  if (AcceptsGzip(accept_encoding)) {
    r.headers.emplace_back("Content-Encoding", "gzip");
    r.body = std::string(asset->gzip);
  } else {
    r.body = std::string(asset->data);
  }
  return r;
}

}  // namespace tidegate::server::web
