// server/compression.h — gzip for HTTP responses the client accepts it for.
//
// The API's large answers (GET /v1/classes with thousands of classes, /metrics, a class's
// forecast with its history) are JSON or text that gzip shrinks several-fold; a browser, curl
// --compressed and Prometheus all send `Accept-Encoding: gzip`. Bodies under
// kCompressMinBytes are sent as they are (a check's answer is a few hundred bytes), so the hot
// path pays nothing. Level 1: most of the size for a fraction of the CPU of the default level.
//
// Thread-safety: stateless; safe to call from any thread.
#ifndef TIDEGATE_SERVER_COMPRESSION_H_
#define TIDEGATE_SERVER_COMPRESSION_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tidegate/server/http_server.h"

namespace tidegate::server {

inline constexpr size_t kCompressMinBytes = 1024;

// Whether an Accept-Encoding header allows gzip: listed (or "*") without "q=0".
bool AcceptsGzip(std::string_view accept_encoding);

// `data` as a gzip member (RFC 1952) at zlib `level` (1..9).
absl::StatusOr<std::string> Gzip(std::string_view data, int level = 1);

// Compresses `r`'s body in place when the client accepts gzip, the body holds at least
// kCompressMinBytes and no Content-Encoding is set yet; adds Content-Encoding and Vary. On a zlib
// failure the body is left as it is.
void CompressForClient(ApiResponse& r, std::string_view accept_encoding);

}  // namespace tidegate::server

#endif  // TIDEGATE_SERVER_COMPRESSION_H_
