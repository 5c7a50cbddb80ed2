// tidegate/history/http_client.h — a small blocking HTTP client (libcurl) for the remote history
// backends (Prometheus, InfluxDB).
//
// Every request has a hard deadline: `timeout` bounds the whole exchange (connect, send, wait,
// receive), so a server that is down, unreachable or slow gives an error within the timeout, never
// a hang. Errors map to absl codes:
//   DeadlineExceeded  the timeout passed ("GET http://.../x: timed out after 2000 ms");
//   Unavailable       connection refused / reset, host unreachable, DNS failure;
//   Internal          any other transport error (with libcurl's message).
// An HTTP error status is NOT a transport error: the response is returned with its status and
// body, and the caller decides (see StatusFromHttp).
//
// Thread-safety: an HttpClient is safe to use from many threads at once. It keeps a small pool of
// libcurl easy handles (so keep-alive connections are reused); each request takes one handle for
// its duration. libcurl's global initialisation happens once, on first Create.
#ifndef TIDEGATE_HISTORY_HTTP_CLIENT_H_
#define TIDEGATE_HISTORY_HTTP_CLIENT_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"

namespace tidegate::history {

struct HttpClientOptions {
  // Bound on a whole request. > 0.
  Duration timeout = std::chrono::seconds(5);
  // Bound on establishing the connection; min(connect_timeout, timeout) applies. > 0.
  Duration connect_timeout = std::chrono::seconds(2);
  // Added as a User-Agent header.
  std::string user_agent = "tidegate";
};

struct HttpResponse {
  long status = 0;  // HTTP status code, e.g. 200.
  std::string body;
};

class HttpClient {
 public:
  // InvalidArgument for non-positive timeouts; Internal if libcurl cannot initialise.
  static absl::StatusOr<std::unique_ptr<HttpClient>> Create(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // GET `url`.
  absl::StatusOr<HttpResponse> Get(const std::string& url);
  // POST `body` with the given Content-Type.
  absl::StatusOr<HttpResponse> Post(const std::string& url, std::string_view body,
                                    std::string_view content_type);

  const HttpClientOptions& options() const { return options_; }

 private:
  explicit HttpClient(HttpClientOptions options) : options_(std::move(options)) {}
  absl::StatusOr<HttpResponse> Perform(const char* method, const std::string& url,
                                       const std::string_view* body, std::string_view content_type);
  void* TakeHandle();
  void ReturnHandle(void* handle);

  const HttpClientOptions options_;
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* handles not in use.
};

// Percent-encodes `text` for a URL query component (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view text);

// Builds "base/path?k1=v1&k2=v2" with the values percent-encoded; a trailing '/' on `base` is
// dropped.
std::string BuildUrl(std::string_view base, std::string_view path,
                     const std::vector<std::pair<std::string, std::string>>& query);

// OK for 2xx. Otherwise an error naming `what` (e.g. "InfluxDB write"), the status and the first
// 300 bytes of the body: 400 InvalidArgument, 401/403 PermissionDenied, 404 NotFound,
// 413 ResourceExhausted, 422 InvalidArgument, 429 ResourceExhausted, 5xx Unavailable, any other
// Unknown.
absl::Status StatusFromHttp(std::string_view what, const HttpResponse& response);

}  // namespace tidegate::history

#endif  // TIDEGATE_HISTORY_HTTP_CLIENT_H_
