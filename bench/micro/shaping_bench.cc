// Admission micro-benchmarks (Google Benchmark). Every tidegate case runs beside its baseline in
// the same binary: a straightforward mutex-protected token bucket. bench/run_shaping.sh runs them
// with repetitions, adds Guava's RateLimiter (bench/peers/) and prints medians and ratios.
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tidegate/common/clock.h"
#include "tidegate/shaping/token_bucket.h"

namespace tidegate::shaping {
namespace {

// The baseline: what most services hand-roll. A mutex, a double balance, a last-refill instant.
class MutexTokenBucket {
 public:
  MutexTokenBucket(double rate_per_s, double size, int64_t now_ns)
      : rate_per_ns_(rate_per_s / 1e9), size_(size), tokens_(size), last_ns_(now_ns) {}
  bool TryAcquire(double cost, int64_t now_ns) {
    std::lock_guard<std::mutex> lock(mu_);
    if (now_ns > last_ns_) {
      tokens_ = std::min(size_, tokens_ + static_cast<double>(now_ns - last_ns_) * rate_per_ns_);
      last_ns_ = now_ns;
    }
    if (tokens_ < cost) return false;
    tokens_ -= cost;
    return true;
  }

 private:
  std::mutex mu_;
  const double rate_per_ns_;
  const double size_;
  double tokens_;
  int64_t last_ns_;
};

constexpr double kRate = 1e8;  // 1 token per 10 ns: with now advancing 10 ns per call, most admit.
constexpr double kSize = 1e6;
constexpr int64_t kStepNs = 10;
const MonoTime kStart{std::chrono::seconds(1000)};

BucketConfig Config(double rate, double size) {
  BucketConfig c;
  c.rate_per_s = rate;
  c.size = size;
  return c;
}

void ReportAdmitted(benchmark::State& state, int64_t admitted) {
  state.counters["admitted_frac"] =
      benchmark::Counter(static_cast<double>(admitted) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
  state.SetItemsProcessed(state.iterations());
}

void BM_Tidegate_OneClass(benchmark::State& state) {
  auto b = *TokenBucket::Create(Config(kRate, kSize), kStart);
  MonoTime now = kStart;
  int64_t admitted = 0;
  for (auto _ : state) {
    now += Duration(kStepNs);
    admitted += b->TryAcquire(1, now).admitted();
  }
  ReportAdmitted(state, admitted);
  state.counters["bucket_bytes"] = sizeof(TokenBucket);
}
BENCHMARK(BM_Tidegate_OneClass);

void BM_Mutex_OneClass(benchmark::State& state) {
  MutexTokenBucket b(kRate, kSize, kStart.time_since_epoch().count());
  int64_t now = kStart.time_since_epoch().count();
  int64_t admitted = 0;
  for (auto _ : state) {
    now += kStepNs;
    admitted += b.TryAcquire(1, now);
  }
  ReportAdmitted(state, admitted);
}
BENCHMARK(BM_Mutex_OneClass);

// Same as OneClass but reading the real monotonic clock on every call, as Guava does.
void BM_Tidegate_OneClass_RealClock(benchmark::State& state) {
  Clock& clock = RealClock();
  auto b = *TokenBucket::Create(Config(1e9, 1e9), clock.Now());
  int64_t admitted = 0;
  for (auto _ : state) admitted += b->TryAcquire(1, clock.Now()).admitted();
  ReportAdmitted(state, admitted);
}
BENCHMARK(BM_Tidegate_OneClass_RealClock);

void BM_Tidegate_ThreeLevels(benchmark::State& state) {
  auto global = *TokenBucket::Create(Config(kRate, kSize), kStart);
  auto tenant = *TokenBucket::Create(Config(kRate, kSize), kStart, global);
  auto cls = *TokenBucket::Create(Config(kRate, kSize), kStart, tenant);
  MonoTime now = kStart;
  int64_t admitted = 0;
  for (auto _ : state) {
    now += Duration(kStepNs);
    admitted += cls->TryAcquire(1, now).admitted();
  }
  ReportAdmitted(state, admitted);
}
BENCHMARK(BM_Tidegate_ThreeLevels);

void BM_Mutex_ThreeLevels(benchmark::State& state) {
  const int64_t start = kStart.time_since_epoch().count();
  MutexTokenBucket levels[3] = {
      {kRate, kSize, start}, {kRate, kSize, start}, {kRate, kSize, start}};
  int64_t now = start;
  int64_t admitted = 0;
  for (auto _ : state) {
    now += kStepNs;
    // Charge-then-check per level, as a hand-rolled hierarchy would (no rollback needed here
    // because every level admits in this benchmark).
    bool ok = levels[0].TryAcquire(1, now) && levels[1].TryAcquire(1, now) &&
              levels[2].TryAcquire(1, now);
    admitted += ok;
  }
  ReportAdmitted(state, admitted);
}
BENCHMARK(BM_Mutex_ThreeLevels);

// Each thread owns its class: scaling shows whether buckets share cache lines.
std::vector<std::shared_ptr<TokenBucket>> g_classes;
void BM_Tidegate_ThreadsOwnClass(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_classes.clear();
    for (int i = 0; i < state.threads(); ++i) {
      g_classes.push_back(*TokenBucket::Create(Config(kRate, kSize), kStart));
    }
  }
  // Google Benchmark starts the timed loop on all threads together, after setup by thread 0.
  MonoTime now = kStart;
  int64_t admitted = 0;
  for (auto _ : state) {
    now += Duration(kStepNs);
    admitted += g_classes[state.thread_index()]->TryAcquire(1, now).admitted();
  }
  ReportAdmitted(state, admitted);
}
BENCHMARK(BM_Tidegate_ThreadsOwnClass)->Threads(1)->Threads(2)->UseRealTime();

std::vector<std::unique_ptr<MutexTokenBucket>> g_mutex_classes;
void BM_Mutex_ThreadsOwnClass(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_mutex_classes.clear();
    for (int i = 0; i < state.threads(); ++i) {
      g_mutex_classes.push_back(
          std::make_unique<MutexTokenBucket>(kRate, kSize, kStart.time_since_epoch().count()));
    }
  }
  int64_t now = kStart.time_since_epoch().count();
  int64_t admitted = 0;
  for (auto _ : state) {
    now += kStepNs;
    admitted += g_mutex_classes[state.thread_index()]->TryAcquire(1, now);
  }
  ReportAdmitted(state, admitted);
}
BENCHMARK(BM_Mutex_ThreadsOwnClass)->Threads(1)->Threads(2)->UseRealTime();

// Every thread hammers one class; time is shared so the bound holds across threads.
std::shared_ptr<TokenBucket> g_shared;
std::atomic<int64_t> g_shared_now{0};
void BM_Tidegate_ThreadsSameClass(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_shared = *TokenBucket::Create(Config(kRate, kSize), kStart);
    g_shared_now.store(kStart.time_since_epoch().count());
  }
  int64_t admitted = 0;
  for (auto _ : state) {
    const int64_t now = g_shared_now.fetch_add(kStepNs, std::memory_order_relaxed) + kStepNs;
    admitted += g_shared->TryAcquire(1, MonoTime(Duration(now))).admitted();
  }
  ReportAdmitted(state, admitted);
}
BENCHMARK(BM_Tidegate_ThreadsSameClass)->Threads(1)->Threads(2)->UseRealTime();

std::unique_ptr<MutexTokenBucket> g_mutex_shared;
void BM_Mutex_ThreadsSameClass(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_mutex_shared =
        std::make_unique<MutexTokenBucket>(kRate, kSize, kStart.time_since_epoch().count());
    g_shared_now.store(kStart.time_since_epoch().count());
  }
  int64_t admitted = 0;
  for (auto _ : state) {
    const int64_t now = g_shared_now.fetch_add(kStepNs, std::memory_order_relaxed) + kStepNs;
    admitted += g_mutex_shared->TryAcquire(1, now);
  }
  ReportAdmitted(state, admitted);
}
BENCHMARK(BM_Mutex_ThreadsSameClass)->Threads(1)->Threads(2)->UseRealTime();

// Decisions on one class while another thread replans it 1,000 times a second (arg 1) or not at
// all (arg 0). The replanner sleeps between plans, so it takes a core only briefly.
void BM_Tidegate_DecideWhileReplanning(benchmark::State& state) {
  auto b = *TokenBucket::Create(Config(kRate, kSize), kStart);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> replans{0};
  std::thread planner;
  if (state.range(0) == 1) {
    planner = std::thread([&] {
      for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        (void)b->Replan(Config(kRate * (1 + 0.01 * (i % 2)), kSize), kStart);
        replans.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  MonoTime now = kStart;
  int64_t admitted = 0;
  for (auto _ : state) {
    now += Duration(kStepNs);
    admitted += b->TryAcquire(1, now).admitted();
  }
  stop.store(true);
  if (planner.joinable()) planner.join();
  ReportAdmitted(state, admitted);
  state.counters["replans"] = static_cast<double>(replans.load());
}
BENCHMARK(BM_Tidegate_DecideWhileReplanning)->Arg(0)->Arg(1)->UseRealTime();

}  // namespace
}  // namespace tidegate::shaping

BENCHMARK_MAIN();
