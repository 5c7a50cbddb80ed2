// server/web_assets.h — serves the web dashboard from the assets compiled into tidegated.
//
// Routes: GET / (and /index.html) answer the dashboard's page; GET /assets/<file> its scripts and
// styles. Asset names carry a content hash, so they are cached for a year ("immutable"); the page
// itself is revalidated on every load ("no-cache") with its strong ETag, answering 304 when the
// browser's If-None-Match still matches. A client that accepts gzip gets the precompressed copy.
// Any other method gets 405; an unknown asset gets the API's JSON 404 error.
//
// Thread-safety: stateless; safe to call from any thread.
#ifndef TIDEGATE_SERVER_WEB_ASSETS_H_
#define TIDEGATE_SERVER_WEB_ASSETS_H_

#include <string_view>

#include "tidegate/server/http_server.h"

namespace tidegate::server::web {

// True for the paths the dashboard owns: "/", "/index.html" and "/assets/...". `target` may carry
// a query string.
bool IsWebAssetPath(std::string_view target);

// Answers one request for a dashboard path. `if_none_match` and `accept_encoding` are the request's
// headers of those names (empty when absent).
ApiResponse ServeWebAsset(std::string_view method, std::string_view target,
                          std::string_view if_none_match, std::string_view accept_encoding);

}  // namespace tidegate::server::web

#endif  // TIDEGATE_SERVER_WEB_ASSETS_H_
