// tidegate/server/http_server.h — the HTTP/JSON API of tidegated (api/openapi.yaml describes it).
//
// Two layers:
//   * HttpApi maps one request (method, target, body) to one response over a Service. It knows
//     nothing of sockets, so tests and other transports can call it directly.
//   * HttpServer serves HttpApi over HTTP/1.1 with Boost.Beast (Asio): keep-alive, a body-size
//   limit
//     from the active config (limits.max_body_bytes; a larger body gets 413 before it is read), a
//     16 KiB header limit, an idle timeout, and optional TLS (Boost.Asio SSL over OpenSSL). It also
//     answers GET / and /assets/... with the web dashboard compiled into the binary
//     (src/server/web_assets.h), before HttpApi sees them.
//
// Routes: POST /v1/check, POST /v1/settle, POST /v1/report, GET /v1/classes,
// GET /v1/classes/{key}, GET /v1/classes/{key}/plan, POST /v1/overrides, DELETE
// /v1/overrides/{key}, GET /v1/config, POST /v1/config:validate, POST /v1/config:reload,
// GET /v1/alerts, GET /v1/scaling, GET
// /healthz, GET /readyz, GET /metrics. {key} is a class's "tenant/key=value,key=value" form,
// percent-encoded.
//
// Errors: every 4xx/5xx has the body {"error": {"code": "INVALID_ARGUMENT", "message": "..."}}
// where code is the absl status code name and the message names the field ("descriptors[0].entries:
// must be an array"). Status mapping: InvalidArgument 400, NotFound 404, AlreadyExists /
// FailedPrecondition / Aborted 409, OutOfRange 422, ResourceExhausted 429, Unavailable 503, other
// 500; 405 for a known path with the wrong method, 413 for an oversized body.
//
// Thread-safety: HttpApi is safe to call concurrently (the Service is). HttpServer runs its own
// threads; Start and Stop may be called from any thread, Stop is idempotent and waits for them.
#ifndef TIDEGATE_SERVER_HTTP_SERVER_H_
#define TIDEGATE_SERVER_HTTP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/server/service.h"

namespace tidegate::server {

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// The JSON error body for a status (also used by the server for transport-level errors).
ApiResponse ErrorResponse(const absl::Status& status);
ApiResponse ErrorResponse(int http_status, std::string_view code, std::string_view message);
int HttpStatusFor(absl::StatusCode code);

class Planning;  // planning.h

struct HttpApiOptions {
  // Re-reads the config from its source and applies it (POST /v1/config:reload; SIGHUP does the
  // same in the daemon). Null: the route answers 409 (no config file).
  std::function<absl::Status()> reload;
  // The planning loop behind the forecast, plan and anomaly routes; null: those routes answer
  // without forecasts or plans.
  const Planning* planning = nullptr;
  // Appended to /metrics (tidegated: the history spool's counters and, with the Prometheus store,
  // the history samples Prometheus scrapes; the gRPC certificate reloads). Null: nothing.
  std::function<std::string()> extra_metrics;
};

class HttpApi {
 public:
  HttpApi(Service& service, HttpApiOptions options);

  // Handles one request. `target` is the request target (path and optional query);
  // `authorization` the Authorization header's value, nullopt when the request has none. The
  // request is first authorized (auth.h: 401 with WWW-Authenticate, 403, or 404 for another
  // tenant's class), then routed; list responses are filtered to the caller's tenants.
  ApiResponse Handle(std::string_view method, std::string_view target, std::string_view body,
                     std::optional<std::string_view> authorization = std::nullopt);

  // /readyz answers 200 only while ready (the daemon sets it once serving, clears it on shutdown).
  void set_ready(bool ready) { ready_.store(ready, std::memory_order_release); }

 private:
  ApiResponse Route(std::string_view method, std::string_view target, std::string_view body);
  ApiResponse Check(std::string_view body);
  ApiResponse Settle(std::string_view body);
  ApiResponse Report(std::string_view body);
  ApiResponse Classes();
  ApiResponse Class(std::string_view key, bool plan);
  ApiResponse SetOverride(std::string_view body);
  ApiResponse DeleteOverride(std::string_view key);
  ApiResponse ConfigGet();
  ApiResponse ConfigValidate(std::string_view body);
  ApiResponse ConfigReload();

  Service& service_;
  const HttpApiOptions options_;
  std::atomic<bool> ready_{false};
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (see HttpServer::port()).
  int threads = 2;    // >= 1.
  Duration idle_timeout = std::chrono::seconds(60);
  // HTTPS (TLS 1.2 or later) with these files; with client_ca_file, clients must present a
  // certificate that CA signed. nullopt: plain HTTP.
  std::optional<TlsFiles> tls;
};

class HttpServer {
 public:
  // Binds and starts serving. InvalidArgument for a bad host or thread count, or TLS files OpenSSL
  // rejects (naming the file); Unavailable when the address cannot be bound (in use, not local),
  // naming host:port.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(HttpApi& api, Service& service,
                                                           HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops accepting, closes connections, joins the threads. Idempotent.
  void Stop();
  // Re-reads the certificate, key and client CA files: connections accepted from now on use them,
  // open ones keep the old. On any error (unreadable file, no PEM, a key that does not match the
  // certificate) the old context stays and the error names the field and file.
  // FailedPrecondition when the server was started without TLS. Thread-safe.
  absl::Status ReloadTls(const TlsFiles& files);
  uint16_t port() const { return port_; }
  const std::string& host() const { return options_.host; }
  bool tls() const { return options_.tls.has_value(); }

 private:
  struct Impl;
  explicit HttpServer(HttpServerOptions options);

  HttpServerOptions options_;
  uint16_t port_ = 0;
  std::unique_ptr<Impl> impl_;
  std::vector<std::thread> threads_;
};

// Parses "host:port" (host may be a bracketed IPv6 address). InvalidArgument naming `flag`.
absl::StatusOr<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view text,
                                                                    std::string_view flag);

}  // namespace tidegate::server

#endif  // TIDEGATE_SERVER_HTTP_SERVER_H_
