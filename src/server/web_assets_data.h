// server/web_assets_data.h — the dashboard's built assets, compiled into tidegated.
//
// The definition is generated at build time by web/tools/embed.mjs from the esbuild output of
// web/ (see cmake/TidegateWeb.cmake). Immutable data; safe to read from any thread.
#ifndef TIDEGATE_SERVER_WEB_ASSETS_DATA_H_
#define TIDEGATE_SERVER_WEB_ASSETS_DATA_H_

#include <span>
#include <string_view>

namespace tidegate::server::web {

struct EmbeddedAsset {
  std::string_view path;          // "/index.html", "/assets/app-HASH.js".
  std::string_view content_type;  // With charset for text.
  std::string_view etag;          // Strong, quoted: "\"<32 hex of SHA-256>\"".
  std::string_view data;          // The bytes.
  std::string_view gzip;          // The same bytes, gzip-compressed.
};

// Every asset, sorted by path. Empty when tidegated is built without the dashboard.
std::span<const EmbeddedAsset> EmbeddedAssets();

}  // namespace tidegate::server::web

#endif  // TIDEGATE_SERVER_WEB_ASSETS_DATA_H_
