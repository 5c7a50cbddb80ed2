#include "server/grpc_server.h"

#include <fmt/format.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/server_builder.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <utility>

namespace tidegate::server {

absl::StatusOr<std::pair<std::string, int>> ParseHostPort(std::string_view listen) {
  if (listen.empty()) return absl::InvalidArgumentError("listen address is empty");
  std::string_view host;
  std::string_view port_text;
  if (listen.front() == '[') {
    const size_t close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return absl::InvalidArgumentError(
          fmt::format("listen address '{}': expected [ipv6]:port", listen));
    }
    host = listen.substr(0, close + 1);
    port_text = listen.substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("listen address '{}': expected host:port", listen));
    }
    host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("listen address '{}': put an IPv6 host in brackets, [::1]:port", listen));
    }
  }
  if (host.empty()) {
    return absl::InvalidArgumentError(fmt::format("listen address '{}': host is empty", listen));
  }
  int port = -1;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        fmt::format("listen address '{}': port '{}' is not in 0..65535", listen, port_text));
  }
  return std::make_pair(std::string(host), port);
}

namespace {

absl::StatusOr<std::string> ReadPemFile(const std::string& file, std::string_view what) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || text.str().empty()) {
    return absl::InvalidArgumentError(fmt::format("gRPC TLS {}: '{}' cannot be read", what, file));
  }
  return text.str();
}

// TLS through gRPC's FileWatcherCertificateProvider: gRPC re-reads the files every
// kTlsRefreshSeconds and serves new handshakes with what it read, so a rotated certificate is used
// without a restart. gRPC 1.51 does not keep the previous pair when the new key does not match
// the new certificate (it logs "Invalid private key" and handshakes fail until the files are
// fixed), so tidegated points it at a CertificateMirror's copies, which only ever hold a valid
// pair. The files are read here first so that a missing one is a clear error at start rather
// than failing handshakes.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const GrpcServer::Options& options) {
  if (options.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  if (auto cert = ReadPemFile(options.tls_cert_file, "certificate"); !cert.ok()) {
    return cert.status();
  }
  if (auto key = ReadPemFile(options.tls_key_file, "private key"); !key.ok()) return key.status();
  if (!options.tls_client_ca_file.empty()) {
    if (auto ca = ReadPemFile(options.tls_client_ca_file, "client CA"); !ca.ok()) {
      return ca.status();
    }
  }
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.tls_key_file, options.tls_cert_file, options.tls_client_ca_file,
      GrpcServer::kTlsRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (options.tls_client_ca_file.empty()) {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    tls.watch_root_certs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(tls);
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    std::string_view listen, const std::vector<grpc::Service*>& services, const Options& options) {
  auto host_port = ParseHostPort(listen);
  if (!host_port.ok()) return host_port.status();
  if (services.empty()) return absl::InvalidArgumentError("no gRPC service to serve");

  grpc::ServerBuilder builder;
  int selected_port = 0;
  auto credentials = Credentials(options);
  if (!credentials.ok()) return credentials.status();
  builder.AddListeningPort(std::string(listen), *credentials, &selected_port);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // gRPC sets SO_REUSEPORT by default: a second daemon would then share the port silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (grpc::Service* service : services) {
    if (service == nullptr) return absl::InvalidArgumentError("null gRPC service");
    builder.RegisterService(service);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || selected_port == 0) {
    if (server != nullptr) server->Shutdown();
    return absl::UnavailableError(
        fmt::format("cannot listen for gRPC on '{}' (address in use or not local?)", listen));
  }
  std::string address = fmt::format("{}:{}", host_port->first, selected_port);
  std::unique_ptr<GrpcServer> out(
      new GrpcServer(std::move(server), selected_port, std::move(address),
                     options.clock != nullptr ? options.clock : &RealClock()));
  out->tls_ = !options.tls_cert_file.empty();
  return out;
}

GrpcServer::GrpcServer(std::unique_ptr<grpc::Server> server, int port, std::string address,
                       const Clock* clock)
    : server_(std::move(server)), port_(port), address_(std::move(address)), clock_(clock) {}

GrpcServer::~GrpcServer() { Stop(Duration::zero()); }

void GrpcServer::Stop(Duration grace) {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  // gRPC wants a wall-clock deadline; take it from our clock, not from system_clock directly.
  const auto deadline = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
      std::chrono::system_clock::time_point(clock_->WallNow().time_since_epoch() + grace));
  server_->Shutdown(deadline);
  server_->Wait();
}

}  // namespace tidegate::server
