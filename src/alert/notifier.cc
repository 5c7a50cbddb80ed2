// Background HTTP delivery of notifications (see tidegate/alert/notifier.h).
#include "tidegate/alert/notifier.h"

#include <algorithm>
#include <utility>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tidegate/history/history_store.h"
#include "tidegate/history/http_client.h"

namespace tidegate::alert {
namespace {

using nlohmann::json;

constexpr Duration kMaxBackoff = std::chrono::seconds(30);

json AlertJson(const Alert& a, WallTime ends_at, const std::string& generator_url) {
  json j = {{"labels", a.labels},
            {"annotations", a.annotations},
            {"startsAt", history::FormatWallTime(a.active_at)},
            {"endsAt", history::FormatWallTime(ends_at)}};
  if (!generator_url.empty()) j["generatorURL"] = generator_url;
  return j;
}

// Labels (or annotations) that every alert shares with the same value.
std::map<std::string, std::string> Common(const std::vector<Alert>& alerts,
                                          const std::map<std::string, std::string> Alert::*field) {
  if (alerts.empty()) return {};
  std::map<std::string, std::string> common = alerts.front().*field;
  for (const Alert& a : alerts) {
    for (auto it = common.begin(); it != common.end();) {
      auto f = (a.*field).find(it->first);
      if (f == (a.*field).end() || f->second != it->second) {
        it = common.erase(it);
      } else {
        ++it;
      }
    }
  }
  return common;
}

}  // namespace

std::string AlertmanagerPayload(const std::vector<Alert>& alerts, WallTime now,
                                Duration firing_validity, const std::string& generator_url) {
  json out = json::array();
  for (const Alert& a : alerts) {
    const WallTime ends =
        a.state == AlertState::kResolved && a.resolved_at ? *a.resolved_at : now + firing_validity;
    out.push_back(AlertJson(a, ends, generator_url));
  }
  return out.dump();
}

std::string WebhookPayload(const std::string& receiver, const std::vector<Alert>& alerts,
                           const std::string& external_url, const std::string& generator_url) {
  const bool firing = std::any_of(alerts.begin(), alerts.end(),
                                  [](const Alert& a) { return a.state != AlertState::kResolved; });
  json list = json::array();
  for (const Alert& a : alerts) {
    const bool resolved = a.state == AlertState::kResolved;
    json j = {{"status", resolved ? "resolved" : "firing"},
              {"labels", a.labels},
              {"annotations", a.annotations},
              {"startsAt", history::FormatWallTime(a.active_at)},
              {"endsAt", resolved && a.resolved_at ? history::FormatWallTime(*a.resolved_at)
                                                   : std::string("0001-01-01T00:00:00Z")},
              {"generatorURL", generator_url},
              {"value", a.value}};
    list.push_back(std::move(j));
  }
  json group = json::object();
  if (!alerts.empty()) group["alertname"] = alerts.front().rule;
  const json body = {{"version", "1"},
                     {"receiver", receiver},
                     {"status", firing ? "firing" : "resolved"},
                     {"groupLabels", group},
                     {"commonLabels", Common(alerts, &Alert::labels)},
                     {"commonAnnotations", Common(alerts, &Alert::annotations)},
                     {"externalURL", external_url},
                     {"alerts", list}};
  return body.dump();
}

absl::StatusOr<std::unique_ptr<Notifier>> Notifier::Create(DeliveryOptions options) {
  if (options.timeout <= Duration::zero()) {
    return absl::InvalidArgumentError("delivery.timeout: must be > 0");
  }
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError("delivery.max_attempts: must be >= 1");
  }
  if (options.initial_backoff < Duration::zero()) {
    return absl::InvalidArgumentError("delivery.initial_backoff: must be >= 0");
  }
  if (options.queue_capacity < 1) {
    return absl::InvalidArgumentError("delivery.queue_capacity: must be >= 1");
  }
  history::HttpClientOptions http;
  http.timeout = options.timeout;
  http.connect_timeout = std::min<Duration>(options.timeout, std::chrono::seconds(2));
  http.user_agent = "tidegate-alerting";
  auto client = history::HttpClient::Create(http);
  if (!client.ok()) return client.status();
  std::unique_ptr<Notifier> n(new Notifier(options, *std::move(client)));
  n->thread_ = std::thread([p = n.get()] { p->Run(); });
  return n;
}

Notifier::Notifier(DeliveryOptions options, std::unique_ptr<history::HttpClient> client)
    : options_(options), client_(std::move(client)) {}

Notifier::~Notifier() { Stop(); }

bool Notifier::Enqueue(std::string receiver, std::string url, std::string json_body) {
  {
    std::lock_guard lock(mu_);
    if (stop_ || queue_.size() >= options_.queue_capacity) {
      ++stats_[receiver].dropped;
      last_errors_[receiver] = stop_ ? "notifier stopped" : "queue full";
      return false;
    }
    stats_[receiver];  // Visible in stats from the first use.
    queue_.push_back({std::move(receiver), std::move(url), std::move(json_body)});
  }
  cv_.notify_one();
  return true;
}

std::map<std::string, ReceiverStats> Notifier::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::map<std::string, std::string> Notifier::last_errors() const {
  std::lock_guard lock(mu_);
  return last_errors_;
}

bool Notifier::WaitIdle(Duration timeout) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [&] { return queue_.empty() && !busy_; });
}

void Notifier::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  for (const Job& j : queue_) {
    ++stats_[j.receiver].dropped;
    last_errors_[j.receiver] = "notifier stopped";
  }
  queue_.clear();
  idle_cv_.notify_all();
}

void Notifier::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    Deliver(job);
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

void Notifier::Deliver(const Job& job) {
  Duration backoff = options_.initial_backoff;
  std::string error;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) {
      std::unique_lock lock(mu_);
      ++stats_[job.receiver].retries;
      // Interruptible by Stop: a stopping notifier does not wait out a backoff.
      if (cv_.wait_for(lock, backoff, [&] { return stop_; })) break;
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
    absl::StatusOr<history::HttpResponse> r = client_->Post(job.url, job.body, "application/json");
    bool retryable = true;
    if (!r.ok()) {
      error = fmt::format("POST {}: {}", job.url, std::string(r.status().message()));
    } else if (r->status >= 200 && r->status < 300) {
      std::lock_guard lock(mu_);
      ++stats_[job.receiver].sent;
      last_errors_[job.receiver] = "";
      return;
    } else {
      error = fmt::format("POST {}: HTTP {}: {}", job.url, r->status, r->body.substr(0, 300));
      retryable = r->status >= 500 || r->status == 429;
    }
    if (!retryable) break;
  }
  std::lock_guard lock(mu_);
  ++stats_[job.receiver].failed;
  last_errors_[job.receiver] = error;
}

}  // namespace tidegate::alert
