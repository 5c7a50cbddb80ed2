// rls_bench_server — serves ShouldRateLimit for bench/run_server.sh, either from tidegate's
// RlsService (--service=tidegate: the real core, a config whose limits are never reached, so every
// call takes the full admission path and is admitted) or from the null service (--service=null:
// the same proto, server wrapper and callback API, answering OK at once).
//
// Prints the bound address on the first line of stdout, then serves until SIGINT or SIGTERM.
#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "server/grpc_null_service.h"
#include "server/grpc_server.h"
#include "server/grpc_service.h"
#include "tidegate/history/sqlite_store.h"
#include "tidegate/server/config.h"
#include "tidegate/server/service.h"

namespace {

// Every bench descriptor (domain bench, class=c<i>) matches the wildcard rule: one class per
// value, each with a limit far above what the load generator can reach.
constexpr char kBenchConfig[] = R"(domain: bench
descriptors:
  - key: class
    rate_limit: {unit: second, requests_per_unit: 1000000000}
)";

int Fail(const std::string& message) {
  std::fprintf(stderr, "rls_bench_server: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string service_name = "tidegate";
  std::string listen = "127.0.0.1:0";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--service=", 10) == 0) {
      service_name = argv[i] + 10;
    } else if (std::strncmp(argv[i], "--listen=", 9) == 0) {
      listen = argv[i] + 9;
    } else {
      return Fail("usage: rls_bench_server [--service=tidegate|null] [--listen=HOST:PORT]");
    }
  }
  // Block the stop signals before gRPC starts its threads, so that only sigwait receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<tidegate::server::Service> core;
  std::unique_ptr<grpc::Service> service;
  if (service_name == "null") {
    service = std::make_unique<tidegate::server::NullRateLimitService>();
  } else if (service_name == "tidegate") {
    auto config = tidegate::server::ParseConfig(kBenchConfig, "bench.yaml");
    if (!config.ok()) return Fail(std::string(config.status().message()));
    char dir_template[] = "/tmp/tidegate-bench-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) return Fail("mkdtemp failed");
    auto store = tidegate::history::SqliteStore::Open(dir_template);
    if (!store.ok()) return Fail(std::string(store.status().message()));
    tidegate::server::ServiceOptions options;
    options.config = *std::move(config);
    options.store = *std::move(store);
    auto created = tidegate::server::Service::Create(std::move(options), tidegate::RealClock());
    if (!created.ok()) return Fail(std::string(created.status().message()));
    core = *std::move(created);
    service = std::make_unique<tidegate::server::RlsService>(*core);
  } else {
    return Fail(fmt::format("unknown --service={} (tidegate, null)", service_name));
  }

  auto server = tidegate::server::GrpcServer::Start(listen, {service.get()});
  if (!server.ok()) return Fail(std::string(server.status().message()));
  std::printf("%s\n", (*server)->address().c_str());
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  (*server)->Stop(std::chrono::seconds(1));
  return 0;
}
