// tidegated — the tidegate daemon: loads the config, opens the embedded store, serves the HTTP/JSON
// API (and Envoy RLS v3 over gRPC when built with it) until SIGINT/SIGTERM.
//
//   tidegated [--config FILE|DIR] [--data-dir DIR] [--grpc-listen HOST:PORT] [--http-listen
//   HOST:PORT]
//
// Signals: SIGHUP reloads the config (atomically, or not at all: a bad config is logged and the old
// one stays); SIGINT / SIGTERM stop serving, flush pending usage to the store and exit 0. The
// config file (or directory) is also re-read when its modification time changes.
//
// Threads: the servers run their own threads; the planning loop's worker fits and updates the
// models (server/planning.h); the main thread waits for signals and, every planning tick
// (schedule.planning_tick, default 1 s), runs Service::Tick (flush closed usage buckets, expire
// overrides, evaluate alerts and scaling recommendations when due), the planning tick, the
// periodic checkpoint and the file watch.
//
// State: planning-state.bin in the data directory holds bucket levels, overrides, models and the
// last plan (docs/formats/planning-state.md); it is written every schedule.checkpoint and at
// shutdown, and read at start (a corrupt or mismatched file is logged and ignored).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "fmt/format.h"
#include "tidegate/common/clock.h"
#include "tidegate/server/certificate_mirror.h"
#include "tidegate/server/config.h"
#include "tidegate/server/http_server.h"
#include "tidegate/server/planning.h"
#include "tidegate/server/service.h"
#include "tidegate/server/store.h"
#ifdef TIDEGATE_WITH_GRPC
#include "server/grpc_server.h"
#include "server/grpc_service.h"
#endif

namespace tidegate::server {
namespace {

// How long a stopping daemon with the Prometheus store keeps /metrics up for a last scrape.
constexpr Duration kFinalScrapeWait = std::chrono::seconds(15);

void Log(const std::string& line) { std::fprintf(stderr, "tidegated: %s\n", line.c_str()); }

// Latest modification time of the config file or of any file of the directory, in the file
// clock's ticks (negative for today's dates: its epoch is in the future), INT64_MIN when unknown.
int64_t ConfigMtime(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int64_t newest = std::numeric_limits<int64_t>::min();
  auto consider = [&](const fs::path& p) {
    const auto t = fs::last_write_time(p, ec);
    if (!ec) newest = std::max<int64_t>(newest, t.time_since_epoch().count());
  };
  if (fs::is_directory(path, ec)) {
    consider(path);
    for (const auto& e : fs::directory_iterator(path, ec)) consider(e.path());
  } else {
    consider(path);
  }
  return newest;
}

int Run(int argc, char** argv) {
  CLI::App app{"tidegated: predictive request shaping daemon"};
  std::string config_path;
  std::string data_dir = "./tidegate-data";
  std::string grpc_listen = "127.0.0.1:8081";
  std::string http_listen = "127.0.0.1:8080";
  int http_threads = 2;
  app.add_option("--config", config_path, "YAML config file or directory of *.yaml files");
  app.add_option("--data-dir", data_dir, "Directory of the embedded store")->capture_default_str();
  app.add_option("--grpc-listen", grpc_listen,
                 "Envoy RLS v3 gRPC address (HOST:PORT, port 0 = any)")
      ->capture_default_str();
  app.add_option("--http-listen", http_listen, "HTTP/JSON API address (HOST:PORT, port 0 = any)")
      ->capture_default_str();
  app.add_option("--http-threads", http_threads, "HTTP server threads")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  // Signals are handled synchronously by the main thread; block them before any thread starts so
  // that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::pair<std::string, uint16_t>> http_addr =
      ParseListenAddress(http_listen, "--http-listen");
  if (!http_addr.ok()) {
    Log(std::string(http_addr.status().message()));
    return 2;
  }
  absl::StatusOr<Config> config = config_path.empty() ? EmptyConfig() : LoadConfig(config_path);
  if (!config.ok()) {
    Log(fmt::format("config: {}", std::string(config.status().message())));
    return 2;
  }
  const std::string store_dir = config->store.path.empty() ? data_dir : config->store.path;
  absl::StatusOr<OpenedStore> store = OpenStore(
      config->store, data_dir, RealClock(), [](const std::string& line) { Log("store: " + line); });
  if (!store.ok()) {
    Log(fmt::format("store: {}", std::string(store.status().message())));
    return 1;
  }
  SpooledStore* const spool = store->spool;  // Remote backends only; owned by the service.
  const std::string store_description = store->description;
  ServiceOptions options;
  options.aggregator.step = config->store.step;
  options.config = *std::move(config);
  options.store = std::move(store->store);
  auto service = Service::Create(std::move(options), RealClock());
  if (!service.ok()) {
    Log(fmt::format("service: {}", std::string(service.status().message())));
    return 1;
  }
  Service& core = **service;
  Log(fmt::format("config version {} ({} domains, {} classes) from {}", core.config_info().version,
                  core.config_info().domains, core.config_info().classes,
                  config_path.empty() ? "(none)" : config_path));
  Log(fmt::format("store: {}", store_description));
  if (spool != nullptr) spool->Start();
  if (const AuthSpec& auth = core.config()->auth; !auth.tokens.empty() || auth.required) {
    Log(fmt::format(
        "auth: {} tokens, a token is {}", auth.tokens.size(),
        auth.required ? "required" : "optional (requests without one have full access)"));
  }

  PlanningOptions planning_options;
  planning_options.state_path = (std::filesystem::path(store_dir) / "planning-state.bin").string();
  planning_options.lstm_path = (std::filesystem::path(store_dir) / "lstm-model.bin").string();
  planning_options.log = [](const std::string& line) { Log("planning: " + line); };
  auto planning = Planning::Create(core, planning_options);
  if (!planning.ok()) {
    Log(fmt::format("planning: {}", std::string(planning.status().message())));
    return 1;
  }
  if (absl::Status s = (*planning)->Restore(); !s.ok()) {
    Log(fmt::format("planning: state not restored, starting fresh: {}", std::string(s.message())));
  }
  (*planning)->Start();
  // Alert rules and scaling recommendations read the planning loop's forecasts.
  core.SetDemandSource(
      [p = planning->get()](std::string_view key) { return p->PredictedDemandOf(key); });
  Log(fmt::format(
      "planning: training schedule '{}' (UTC), tick every {} ms", core.config()->schedule.training,
      std::chrono::duration_cast<std::chrono::milliseconds>(core.config()->schedule.planning_tick)
          .count()));

  // gRPC serves TLS from validated copies of the configured pair, which it watches; a reload
  // installs a new pair there only when it is valid (a bad one is logged and counted, and the
  // previous pair keeps serving).
  std::unique_ptr<CertificateMirror> grpc_certificates;
#ifdef TIDEGATE_WITH_GRPC
  if (const auto& tls = core.config()->tls.grpc) {
    auto mirror = CertificateMirror::Create(
        (std::filesystem::path(data_dir) / "tls" / "grpc").string(), *tls, "tls.grpc");
    if (!mirror.ok()) {
      Log(std::string(mirror.status().message()));
      return 1;
    }
    grpc_certificates = *std::move(mirror);
  }
#endif

  std::mutex reload_mu;
  // The config and the TLS files it names: a change of either triggers a reload.
  auto watched_mtime = [&] {
    int64_t newest = ConfigMtime(config_path);
    const TlsSpec& tls = core.config()->tls;
    for (const std::optional<TlsFiles>* f : {&tls.http, &tls.grpc}) {
      if (!f->has_value()) continue;
      for (const std::string* p : {&(*f)->cert_file, &(*f)->key_file, &(*f)->client_ca_file}) {
        if (!p->empty()) newest = std::max(newest, ConfigMtime(*p));
      }
    }
    return newest;
  };
  int64_t config_mtime =
      config_path.empty() ? std::numeric_limits<int64_t>::min() : watched_mtime();
  HttpServer* http_server = nullptr;  // Set once the HTTP server runs.
  auto reload = [&]() -> absl::Status {
    std::lock_guard lock(reload_mu);
    absl::StatusOr<Config> next = LoadConfig(config_path);  // Also checks the TLS files.
    absl::Status applied = next.ok() ? core.ApplyConfig(*std::move(next)) : next.status();
    config_mtime = watched_mtime();
    // The gRPC pair of the config in force (the new one, or the previous one when the new was
    // refused): installed if it changed and is valid, otherwise the installed pair stays.
    if (const auto& tls = core.config()->tls.grpc; tls && grpc_certificates) {
      const uint64_t installed = grpc_certificates->installed();
      if (absl::Status s = grpc_certificates->Update(*tls); !s.ok()) {
        Log(fmt::format(
            "tls.grpc: new certificate not installed, the previous one keeps serving: {}",
            std::string(s.message())));
      } else if (grpc_certificates->installed() != installed) {
        Log("tls.grpc: new certificate installed");
      }
    }
    if (!applied.ok()) return applied;
    // New certificates for new connections; a failure keeps the previous certificate.
    if (const auto& tls = core.config()->tls.http; tls && http_server && http_server->tls()) {
      if (absl::Status s = http_server->ReloadTls(*tls); !s.ok()) {
        return absl::FailedPreconditionError(
            fmt::format("config applied, but the HTTP certificate was not reloaded (the previous "
                        "one stays in use): {}",
                        std::string(s.message())));
      }
    }
    return absl::OkStatus();
  };
  HttpApiOptions api_options;
  if (!config_path.empty()) api_options.reload = reload;
  api_options.planning = planning->get();
  api_options.extra_metrics = [spool, &grpc_certificates] {
    std::string out = spool != nullptr ? spool->RenderMetrics() : std::string();
    if (grpc_certificates) out += grpc_certificates->RenderMetrics();
    return out;
  };
  HttpApi api(core, api_options);
  HttpServerOptions http_options;
  http_options.host = http_addr->first;
  http_options.port = http_addr->second;
  http_options.threads = http_threads;
  http_options.tls = core.config()->tls.http;
  auto http = HttpServer::Start(api, core, http_options);
  if (!http.ok()) {
    Log(std::string(http.status().message()));
    return 1;
  }
  {
    std::lock_guard lock(reload_mu);
    http_server = http->get();
  }
  Log(fmt::format("HTTP listening on {}://{}:{}/", (*http)->tls() ? "https" : "http",
                  (*http)->host(), (*http)->port()));
#ifdef TIDEGATE_WITH_GRPC
  RlsService rls(core);
  GrpcServer::Options grpc_options;
  // Requests up to this size reach the service, which answers INVALID_ARGUMENT naming
  // limits.max_body_bytes; larger ones gRPC refuses itself (RESOURCE_EXHAUSTED).
  grpc_options.max_receive_message_bytes =
      static_cast<int>(std::max<size_t>(4 << 20, core.config()->limits.max_body_bytes));
  if (grpc_certificates) {
    grpc_options.tls_cert_file = grpc_certificates->cert_file();
    grpc_options.tls_key_file = grpc_certificates->key_file();
    grpc_options.tls_client_ca_file = grpc_certificates->client_ca_file();
  }
  auto grpc = GrpcServer::Start(grpc_listen, {&rls}, grpc_options);
  if (!grpc.ok()) {
    Log(std::string(grpc.status().message()));
    return 1;
  }
  Log(fmt::format("gRPC (Envoy RLS v3{}) listening on {}", (*grpc)->tls() ? ", TLS" : "",
                  (*grpc)->address()));
#else
  Log(fmt::format("gRPC not built in; --grpc-listen {} ignored", grpc_listen));
#endif
  api.set_ready(true);

  MonoTime last_checkpoint = core.clock().Now();
  for (;;) {
    const Duration tick = core.config()->schedule.planning_tick;
    timespec period{static_cast<time_t>(tick / std::chrono::seconds(1)),
                    static_cast<long>((tick % std::chrono::seconds(1)).count())};
    const int sig = sigtimedwait(&signals, nullptr, &period);
    if (sig == SIGINT || sig == SIGTERM) {
      Log(fmt::format("{}: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM"));
      break;
    }
    if (sig == SIGHUP) {
      absl::Status s = reload();
      Log(s.ok() ? fmt::format("SIGHUP: config version {} applied", core.config_info().version)
                 : fmt::format("SIGHUP: config NOT applied, keeping version {}: {}",
                               core.config_info().version, std::string(s.message())));
      continue;
    }
    if (absl::Status s = core.Tick(); !s.ok()) {
      Log(fmt::format("usage flush failed (kept for the next tick): {}", std::string(s.message())));
    }
    (void)(*planning)->Tick();  // Errors are logged by the planning loop.
    if (core.clock().Now() - last_checkpoint >= core.config()->schedule.checkpoint) {
      last_checkpoint = core.clock().Now();
      if (absl::Status s = (*planning)->Checkpoint(); !s.ok()) {
        Log(fmt::format("planning: checkpoint failed: {}", std::string(s.message())));
      }
    }
    if (!config_path.empty()) {
      int64_t mtime;
      {
        std::lock_guard lock(reload_mu);
        mtime = config_mtime;
      }
      if (watched_mtime() != mtime) {
        absl::Status s = reload();
        Log(s.ok() ? fmt::format("config changed on disk: version {} applied",
                                 core.config_info().version)
                   : fmt::format("config changed on disk but NOT applied: {}",
                                 std::string(s.message())));
      }
    }
  }
  api.set_ready(false);
#ifdef TIDEGATE_WITH_GRPC
  (*grpc)->Stop(std::chrono::seconds(2));
#endif
  absl::Status flushed = core.Flush();
  if (spool != nullptr && spool->UnscrapedCount() > 0) {
    // Prometheus pulls: keep /metrics up until a scrape has taken the last steps (bounded); what
    // none took is spooled below, and the next start stages it again.
    const MonoTime until = core.clock().Now() + kFinalScrapeWait;
    Log(fmt::format("waiting up to {} s for Prometheus to scrape {} history samples",
                    std::chrono::duration_cast<std::chrono::seconds>(kFinalScrapeWait).count(),
                    spool->UnscrapedCount()));
    while (spool->UnscrapedCount() > 0 && core.clock().Now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  (*http)->Stop();
  (*planning)->Stop();
  // Reports acknowledged while /metrics waited for its last scrape.
  if (flushed.ok()) flushed = core.Flush();
  if (spool != nullptr) {
    if (absl::Status s = spool->SpoolUnscraped(); !s.ok()) {
      Log(fmt::format("history samples no scrape took are LOST: {}", std::string(s.message())));
    }
    spool->Stop();
    if (absl::Status s = spool->Drain(core.clock().Now()); !s.ok()) {
      Log(fmt::format("{} still failing; {} samples stay in the spool for the next start: {}",
                      spool->name(), spool->stats().pending_samples, std::string(s.message())));
    }
  }
  if (!flushed.ok()) {
    Log(fmt::format("final usage flush failed: {}", std::string(flushed.message())));
    return 1;
  }
  if (absl::Status s = (*planning)->Checkpoint(); !s.ok()) {
    Log(fmt::format("planning: final checkpoint failed: {}", std::string(s.message())));
    return 1;
  }
  Log("stopped; usage flushed to the store, planning state saved");
  return 0;
}

}  // namespace
}  // namespace tidegate::server

int main(int argc, char** argv) { return tidegate::server::Run(argc, argv); }
