// tidegate/alert/notifier.h — delivery of alert and scaling notifications over HTTP.
//
// A Notifier owns one background thread and a bounded FIFO queue of JSON POSTs. Enqueue never
// blocks and never does I/O: when the queue is full the notification is dropped and counted.
// The thread sends each one through libcurl with a per-request timeout; a transport error, a 5xx
// or a 429 is retried up to `max_attempts` times with exponential backoff (initial_backoff,
// doubling, at most 30 s); any other non-2xx status is a permanent failure. Every outcome is
// counted per receiver (sent, failed, dropped, retried), for the metrics.
//
// The payload encoders below are pure functions: Alertmanager's API v2 body
// (POST /api/v2/alerts: a JSON array of {labels, annotations, startsAt, endsAt, generatorURL})
// and tidegate's webhook body (an alert group with status firing or resolved).
//
// Thread-safety: Enqueue, stats and WaitIdle may be called from any thread; Stop is idempotent and
// joins the thread (notifications still queued are dropped and counted).
#ifndef TIDEGATE_ALERT_NOTIFIER_H_
#define TIDEGATE_ALERT_NOTIFIER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/alert/rules.h"
#include "tidegate/common/clock.h"

namespace tidegate::history {
class HttpClient;
}

namespace tidegate::alert {

struct DeliveryOptions {
  Duration timeout = std::chrono::seconds(5);                 // Per attempt; > 0.
  int max_attempts = 3;                                       // >= 1.
  Duration initial_backoff = std::chrono::milliseconds(500);  // >= 0; doubles per retry.
  size_t queue_capacity = 1000;                               // >= 1.
};

struct ReceiverStats {
  uint64_t sent = 0;     // Delivered (2xx).
  uint64_t failed = 0;   // Given up on after the last attempt, or a permanent error.
  uint64_t dropped = 0;  // Queue full, or still queued at Stop.
  uint64_t retries = 0;  // Attempts after the first.
};

class Notifier {
 public:
  // InvalidArgument naming the bad option; Internal if libcurl cannot initialise.
  static absl::StatusOr<std::unique_ptr<Notifier>> Create(DeliveryOptions options);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Queues a POST of `json_body` to `url`, counted under `receiver`. False when dropped.
  bool Enqueue(std::string receiver, std::string url, std::string json_body);

  // Per receiver, every receiver that has been used.
  std::map<std::string, ReceiverStats> stats() const;
  // The last delivery error per receiver ("" when the last delivery succeeded).
  std::map<std::string, std::string> last_errors() const;

  // Waits (up to `timeout`, in real time) until the queue is empty and nothing is in flight. For
  // tests and shutdown. True when idle.
  bool WaitIdle(Duration timeout);

  void Stop();

 private:
  struct Job {
    std::string receiver;
    std::string url;
    std::string body;
  };
  Notifier(DeliveryOptions options, std::unique_ptr<history::HttpClient> client);
  void Run();
  void Deliver(const Job& job);

  const DeliveryOptions options_;
  std::unique_ptr<history::HttpClient> client_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // Work arrived, or stop.
  std::condition_variable idle_cv_;  // Queue drained.
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::map<std::string, ReceiverStats> stats_;
  std::map<std::string, std::string> last_errors_;
  std::thread thread_;
};

// Alertmanager API v2 body for `alerts`: firing alerts get endsAt = now + `firing_validity` (so
// that Alertmanager resolves them itself if tidegate stops sending), resolved ones their
// resolved_at. `generator_url` is omitted when empty.
std::string AlertmanagerPayload(const std::vector<Alert>& alerts, WallTime now,
                                Duration firing_validity, const std::string& generator_url);

// The webhook body for one group (alerts of one rule with one status):
//   {"version":"1","receiver":..,"status":"firing"|"resolved","groupLabels":{"alertname":..},
//    "commonLabels":{..},"commonAnnotations":{..},"externalURL":..,"alerts":[{"status":..,
//    "labels":{..},"annotations":{..},"startsAt":..,"endsAt":..,"generatorURL":..,"value":..}]}
std::string WebhookPayload(const std::string& receiver, const std::vector<Alert>& alerts,
                           const std::string& external_url, const std::string& generator_url);

}  // namespace tidegate::alert

#endif  // TIDEGATE_ALERT_NOTIFIER_H_
