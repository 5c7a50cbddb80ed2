// server/grpc_server.h — a gRPC server on one host:port serving tidegate's gRPC services.
//
// GrpcServer owns a grpc::Server. Start() binds the address (port 0 picks a free port, which
// port() then reports), registers the given services and starts serving; the services must outlive
// the server. Stop() stops accepting calls, lets calls in flight finish until the grace period
// ends, then cancels what is left; the destructor calls Stop() with a zero grace.
//
// Limits: messages larger than Options::max_receive_message_bytes are refused by gRPC with
// RESOURCE_EXHAUSTED before they reach a service.
//
// Thread-safety: Start is a factory; Stop and the accessors may be called from any thread, Stop
// more than once (later calls do nothing).
#ifndef TIDEGATE_SERVER_GRPC_SERVER_H_
#define TIDEGATE_SERVER_GRPC_SERVER_H_

#include <grpcpp/server.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"

namespace tidegate::server {

class GrpcServer {
 public:
  static constexpr unsigned kTlsRefreshSeconds = 1;
  struct Options {
    // Largest request accepted, bytes. An Envoy RLS request is well under 1 KiB.
    int max_receive_message_bytes = 64 * 1024;
    // Clock for Stop's grace deadline (gRPC takes a wall-clock deadline). Null: RealClock().
    const Clock* clock = nullptr;
    // TLS with these PEM files when tls_cert_file is non-empty; with tls_client_ca_file, clients
    // must present a certificate that CA signed (mutual TLS). The files are watched (every
    // kTlsRefreshSeconds): new handshakes use a rotated certificate without a restart; a key
    // that does not match its certificate makes handshakes fail until fixed (gRPC 1.51), so
    // tidegated passes a CertificateMirror's validated copies (certificate_mirror.h).
    std::string tls_cert_file;
    std::string tls_key_file;
    std::string tls_client_ca_file;
  };

  // Binds `listen` ("host:port", "[v6]:port"; port 0 = any free port) and starts serving
  // `services` (not owned, non-null). InvalidArgument for a malformed address; Unavailable if it
  // cannot be bound (in use, no such interface); InvalidArgument naming a TLS file that cannot be
  // read.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      std::string_view listen, const std::vector<grpc::Service*>& services, const Options& options);
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      std::string_view listen, const std::vector<grpc::Service*>& services) {
    return Start(listen, services, Options());
  }

  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;
  ~GrpcServer();

  // Stops accepting calls and waits for calls in flight for at most `grace`, then cancels them.
  void Stop(Duration grace);

  // The bound port (the chosen one when asked for port 0).
  int port() const { return port_; }
  // "host:port" with the bound port, for logs and clients.
  const std::string& address() const { return address_; }
  bool tls() const { return tls_; }

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, int port, std::string address,
             const Clock* clock);

  std::unique_ptr<grpc::Server> server_;
  const int port_;
  const std::string address_;
  const Clock* clock_;
  bool tls_ = false;
  std::mutex stop_mu_;
  bool stopped_ = false;  // Guarded by stop_mu_.
};

// Splits "host:port" / "[v6]:port" into (host, port); InvalidArgument naming the problem.
absl::StatusOr<std::pair<std::string, int>> ParseHostPort(std::string_view listen);

}  // namespace tidegate::server

#endif  // TIDEGATE_SERVER_GRPC_SERVER_H_
