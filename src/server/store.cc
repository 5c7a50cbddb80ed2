#include "tidegate/server/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tidegate/common/status.h"
#include "tidegate/history/http_client.h"
#include "tidegate/history/influx_store.h"
#include "tidegate/history/prometheus_store.h"
#include "tidegate/history/sqlite_store.h"

namespace tidegate::server {
namespace {

using json = nlohmann::json;

// One spool line: {"series":[{"metric":..,"tenant":..,"class":..,"samples":[[ns,value],..]},..]}.
std::string EncodeBatch(const history::SampleBatch& batch) {
  json series = json::array();
  for (const history::SeriesSamples& s : batch.series) {
    json samples = json::array();
    for (const history::Sample& x : s.samples) {
      samples.push_back({x.time.time_since_epoch().count(), x.value});
    }
    series.push_back({{"metric", s.series.metric},
                      {"tenant", s.series.tenant},
                      {"class", s.series.class_key},
                      {"samples", std::move(samples)}});
  }
  return json{{"series", std::move(series)}}.dump() + "\n";
}

absl::StatusOr<history::SampleBatch> DecodeBatch(std::string_view line) {
  const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("series") || !j["series"].is_array()) {
    return absl::DataLossError("not a spooled batch");
  }
  history::SampleBatch batch;
  for (const json& s : j["series"]) {
    if (!s.is_object() || !s.value("metric", json()).is_string() ||
        !s.value("tenant", json()).is_string() || !s.value("class", json()).is_string() ||
        !s.value("samples", json()).is_array()) {
      return absl::DataLossError("a series without metric, tenant, class or samples");
    }
    history::SeriesSamples out;
    out.series = {s["metric"].get<std::string>(), s["tenant"].get<std::string>(),
                  s["class"].get<std::string>()};
    for (const json& x : s["samples"]) {
      if (!x.is_array() || x.size() != 2 || !x[0].is_number_integer() || !x[1].is_number()) {
        return absl::DataLossError("a sample that is not [time_ns, value]");
      }
      out.samples.push_back({WallTime(Duration(x[0].get<int64_t>())), x[1].get<double>()});
    }
    batch.series.push_back(std::move(out));
  }
  TIDEGATE_RETURN_IF_ERROR(history::ValidateBatch(batch));
  return batch;
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(fmt::format("spool {}: write: {}", path, std::strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fdatasync(fd) != 0) {
    return absl::InternalError(fmt::format("spool {}: fdatasync: {}", path, std::strerror(errno)));
  }
  return absl::OkStatus();
}

// Writes `data` to `path`, appending or replacing it (via a temporary file and a rename).
absl::Status WriteFile(const std::string& path, std::string_view data, bool append) {
  const std::string target = append ? path : path + ".tmp";
  const int fd =
      ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
  if (fd < 0) {
    return absl::InternalError(fmt::format("spool {}: open: {}", target, std::strerror(errno)));
  }
  absl::Status s = WriteAll(fd, data, target);
  ::close(fd);
  TIDEGATE_RETURN_IF_ERROR(s);
  if (!append && std::rename(target.c_str(), path.c_str()) != 0) {
    return absl::InternalError(fmt::format("spool {}: rename: {}", path, std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsTransientStoreError(const absl::Status& status) {
  return !status.ok() && status.code() != absl::StatusCode::kInvalidArgument &&
         status.code() != absl::StatusCode::kAlreadyExists;
}

absl::StatusOr<std::unique_ptr<SpooledStore>> SpooledStore::Open(
    std::unique_ptr<history::HistoryStore> backend, SpoolOptions options, Clock& clock) {
  if (backend == nullptr) return absl::InvalidArgumentError("spool: a backend is required");
  if (options.path.empty()) return absl::InvalidArgumentError("spool: a file path is required");
  std::unique_ptr<SpooledStore> store(new SpooledStore(std::move(backend), options, clock));
  std::error_code ec;
  if (std::filesystem::exists(options.path, ec)) {
    std::ifstream in(options.path);
    if (!in) return absl::InternalError(fmt::format("spool {}: cannot be read", options.path));
    std::stringstream text;
    text << in.rdbuf();
    const std::string content = text.str();
    size_t pos = 0;
    int line_no = 0;
    while (pos < content.size()) {
      ++line_no;
      const size_t nl = content.find('\n', pos);
      if (nl == std::string::npos) {
        // Written without its newline: the write was interrupted, so it was never acknowledged.
        store->Log(fmt::format("spool {}: line {} is incomplete (interrupted write), dropped",
                               options.path, line_no));
        break;
      }
      absl::StatusOr<history::SampleBatch> batch =
          DecodeBatch(std::string_view(content).substr(pos, nl - pos));
      pos = nl + 1;
      if (!batch.ok()) {
        store->Log(fmt::format("spool {}: line {} dropped: {}", options.path, line_no,
                               std::string(batch.status().message())));
        continue;
      }
      store->pending_samples_ += batch->SampleCount();
      store->queue_.push_back(*std::move(batch));
    }
    if (!store->queue_.empty()) {
      store->Log(fmt::format("spool {}: {} samples from an earlier run wait for {}", options.path,
                             store->pending_samples_, store->backend_->name()));
    }
  }
  std::lock_guard lock(store->mu_);
  TIDEGATE_RETURN_IF_ERROR(store->RewriteLocked());  // Also proves the file is writable.
  return store;
}

SpooledStore::~SpooledStore() { Stop(); }

void SpooledStore::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

absl::Status SpooledStore::SpoolLocked(const history::SampleBatch& batch) {
  const size_t n = batch.SampleCount();
  if (n == 0) return absl::OkStatus();
  if (pending_samples_ + n > options_.max_samples) {
    return absl::ResourceExhaustedError(
        fmt::format("history spool {} is full: {} samples wait for {} and {} more do not fit "
                    "(store.max_spool_samples = {})",
                    options_.path, pending_samples_, backend_->name(), n, options_.max_samples));
  }
  TIDEGATE_RETURN_IF_ERROR(WriteFile(options_.path, EncodeBatch(batch), /*append=*/true));
  queue_.push_back(batch);
  pending_samples_ += n;
  counters_.spooled_samples += n;
  return absl::OkStatus();
}

absl::Status SpooledStore::RewriteLocked() {
  std::string text;
  for (const history::SampleBatch& b : queue_) text += EncodeBatch(b);
  return WriteFile(options_.path, text, /*append=*/false);
}

absl::Status SpooledStore::Append(const history::SampleBatch& batch) {
  TIDEGATE_RETURN_IF_ERROR(history::ValidateBatch(batch));
  if (batch.SampleCount() == 0) return absl::OkStatus();
  {
    std::lock_guard lock(mu_);
    if (!queue_.empty()) return SpoolLocked(batch);  // Keep the order behind what waits.
  }
  absl::Status s = backend_->Append(batch);
  if (s.ok() || !IsTransientStoreError(s)) return s;
  std::lock_guard lock(mu_);
  ++counters_.write_failures;
  if (queue_.empty()) {
    Log(fmt::format("{} write failed, spooling to {} until it answers: {}", backend_->name(),
                    options_.path, std::string(s.message())));
    next_attempt_ = clock_.Now() + options_.initial_backoff;
    backoff_ = options_.initial_backoff;
  }
  return SpoolLocked(batch);
}

absl::Status SpooledStore::Drain(MonoTime now) {
  std::lock_guard drain(drain_mu_);
  bool popped = false;
  absl::Status result;
  for (;;) {
    history::SampleBatch front;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty() || now < next_attempt_) break;
      front = queue_.front();
    }
    absl::Status s = backend_->Append(front);
    std::lock_guard lock(mu_);
    const size_t n = front.SampleCount();
    if (s.ok() || !IsTransientStoreError(s)) {
      queue_.pop_front();
      pending_samples_ -= n;
      popped = true;
      if (s.ok()) {
        counters_.forwarded_samples += n;
      } else {
        counters_.dropped_rejected += n;
        Log(fmt::format("{} refused {} spooled samples for good, dropped: {}", backend_->name(), n,
                        std::string(s.message())));
      }
      backoff_ = Duration(0);
      if (queue_.empty()) Log(fmt::format("{} answers again: spool drained", backend_->name()));
      continue;
    }
    ++counters_.write_failures;
    backoff_ = std::clamp(backoff_ * 2, options_.initial_backoff, options_.max_backoff);
    next_attempt_ = now + backoff_;
    result = s;
    break;
  }
  if (popped) {
    std::lock_guard lock(mu_);
    if (absl::Status s = RewriteLocked(); !s.ok()) {
      // The backend has the forwarded batches; a stale spool only re-sends them (idempotent).
      Log(std::string(s.message()));
    }
  }
  return result;
}

void SpooledStore::Start() {
  std::lock_guard guard(thread_mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(thread_mu_);
    while (!stop_) {
      lock.unlock();
      (void)Drain(clock_.Now());  // Failures are counted and retried with backoff.
      lock.lock();
      thread_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stop_; });
    }
  });
}

void SpooledStore::Stop() {
  {
    std::lock_guard lock(thread_mu_);
    stop_ = true;
  }
  thread_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::Status SpooledStore::SpoolUnscraped() {
  if (options_.exposition == nullptr) return absl::OkStatus();
  const history::SampleBatch unscraped = options_.exposition->Unrendered();
  if (unscraped.SampleCount() == 0) return absl::OkStatus();
  std::lock_guard lock(mu_);
  return SpoolLocked(unscraped);
}

SpoolStats SpooledStore::stats() const {
  std::lock_guard lock(mu_);
  SpoolStats s = counters_;
  s.pending_batches = queue_.size();
  s.pending_samples = pending_samples_;
  if (options_.exposition) s.dropped_unscraped = options_.exposition->dropped_unrendered();
  return s;
}

std::string SpooledStore::RenderMetrics() const {
  const SpoolStats s = stats();
  const std::string backend(backend_->name());
  auto one = [&](const char* name, const char* help, const char* type, double v) {
    return history::ExpositionFamily{
        name, help, type, {{name, {{"backend", backend}}, v, std::nullopt}}};
  };
  std::vector<history::ExpositionFamily> families = {
      one("tidegate_history_spool_samples",
          "History samples waiting in the local spool for the remote store.", "gauge",
          static_cast<double>(s.pending_samples)),
      one("tidegate_history_spooled_samples_total",
          "History samples written to the local spool because the remote store failed.", "counter",
          static_cast<double>(s.spooled_samples)),
      one("tidegate_history_forwarded_samples_total",
          "Spooled history samples later written to the remote store.", "counter",
          static_cast<double>(s.forwarded_samples)),
      one("tidegate_history_write_failures_total", "Failed writes to the remote history store.",
          "counter", static_cast<double>(s.write_failures)),
      {"tidegate_history_dropped_samples_total",
       "History samples lost: refused for good by the remote store, or trimmed from the "
       "Prometheus exposition before any scrape.",
       "counter",
       {{"tidegate_history_dropped_samples_total",
         {{"backend", backend}, {"reason", "rejected"}},
         static_cast<double>(s.dropped_rejected),
         std::nullopt},
        {"tidegate_history_dropped_samples_total",
         {{"backend", backend}, {"reason", "unscraped"}},
         static_cast<double>(s.dropped_unscraped),
         std::nullopt}}}};
  std::string text = history::EncodeExposition(families);
  if (options_.exposition) text += options_.exposition->Render();
  return text;
}

absl::StatusOr<OpenedStore> OpenStore(const StoreSpec& spec, const std::string& data_dir,
                                      Clock& clock, std::function<void(const std::string&)> log) {
  OpenedStore out;
  if (spec.type == StoreType::kSqlite) {
    const std::string dir = spec.path.empty() ? data_dir : spec.path;
    history::SqliteStoreOptions options;
    options.raw_retention = spec.raw_retention;
    TIDEGATE_ASSIGN_OR_RETURN(out.store, history::SqliteStore::Open(dir, options));
    out.description = fmt::format("sqlite in {}", dir);
    return out;
  }
  // Where the config asked for this backend, for every error below.
  const std::string where = fmt::format("{}:{}: store.url", spec.location.file, spec.location.line);
  std::unique_ptr<history::HistoryStore> backend;
  std::shared_ptr<history::ExpositionBuffer> exposition;
  if (spec.type == StoreType::kInfluxDb) {
    history::InfluxStoreOptions options;
    options.base_url = spec.url;
    options.database = spec.database;
    options.timeout = spec.timeout;
    options.create_database = true;  // Idempotent, and proves the server answers.
    absl::StatusOr<std::unique_ptr<history::InfluxStore>> influx =
        history::InfluxStore::Create(options);
    if (!influx.ok()) {
      return absl::UnavailableError(
          fmt::format("{}: InfluxDB at {} (database '{}') is not usable: {}", where, spec.url,
                      spec.database, std::string(influx.status().message())));
    }
    backend = *std::move(influx);
    out.description = fmt::format("influxdb at {}, database '{}'", spec.url, spec.database);
  } else {
    history::HttpClientOptions http_options;
    http_options.timeout = spec.timeout;
    http_options.connect_timeout = std::min<Duration>(spec.timeout, std::chrono::seconds(2));
    TIDEGATE_ASSIGN_OR_RETURN(std::unique_ptr<history::HttpClient> http,
                              history::HttpClient::Create(http_options));
    absl::StatusOr<history::HttpResponse> probe =
        http->Get(history::BuildUrl(spec.url, "/api/v1/status/buildinfo", {}));
    absl::Status ok = probe.ok() ? history::StatusFromHttp("Prometheus", *probe) : probe.status();
    if (!ok.ok()) {
      return absl::UnavailableError(fmt::format("{}: Prometheus at {} is not reachable: {}", where,
                                                spec.url, std::string(ok.message())));
    }
    history::PrometheusStoreOptions options;
    options.base_url = spec.url;
    options.timeout = spec.timeout;
    options.selector = spec.selector;
    TIDEGATE_ASSIGN_OR_RETURN(std::unique_ptr<history::PrometheusStore> prometheus,
                              history::PrometheusStore::Create(options));
    exposition = prometheus->buffer();
    backend = std::move(prometheus);
    out.description =
        fmt::format("prometheus at {} (it must scrape this daemon's /metrics{})", spec.url,
                    spec.selector.empty() ? "" : fmt::format("; selector {}", spec.selector));
  }
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    return absl::InternalError(fmt::format("data directory {}: {}", data_dir, ec.message()));
  }
  SpoolOptions spool;
  spool.path = (std::filesystem::path(data_dir) / kSpoolFileName).string();
  spool.max_samples = spec.max_spool_samples;
  spool.exposition = exposition;
  spool.log = std::move(log);
  TIDEGATE_ASSIGN_OR_RETURN(std::unique_ptr<SpooledStore> spooled,
                            SpooledStore::Open(std::move(backend), std::move(spool), clock));
  out.spool = spooled.get();
  out.store = std::move(spooled);
  return out;
}

}  // namespace tidegate::server
