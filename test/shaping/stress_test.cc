// Multi-threaded stress: run under ThreadSanitizer by `make tsan` and by the test command. Time is
// simulated (a shared SimulatedClock advanced by one thread), so the bounds below are exact.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tidegate/shaping/registry.h"
#include "tidegate/shaping/token_bucket.h"

namespace tidegate::shaping {
namespace {

BucketConfig Config(double rate, double size) {
  BucketConfig c;
  c.rate_per_s = rate;
  c.size = size;
  return c;
}

// Threads hammer one class under a tenant while a ticker advances time and a planner replans.
// Admitted cost never exceeds the most generous bound: max size + max rate * elapsed.
TEST(ShapingStressTest, ConcurrentAcquireSettleReplanStaysWithinBounds) {
  SimulatedClock clock;
  auto tenant = *TokenBucket::Create(Config(4000, 400), clock.Now());
  auto cls = *TokenBucket::Create(Config(2000, 200), clock.Now(), tenant);
  const MonoTime start = clock.Now();
  std::atomic<bool> stop{false};
  std::atomic<int64_t> admitted_milli{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      int64_t local = 0;
      for (int i = 0; i < 200000 && !stop.load(std::memory_order_relaxed); ++i) {
        if (cls->TryAcquire(1, clock.Now(), t % kMaxTiers).admitted()) {
          local += 1000;
          if (i % 8 == 0) (void)cls->Settle(-0.5, clock.Now());  // Refunds shrink the total.
          if (i % 8 == 0) local -= 500;
        }
      }
      admitted_milli.fetch_add(local);
    });
  }
  threads.emplace_back([&] {  // Planner: replans between two configs.
    for (int i = 0; i < 2000; ++i) {
      (void)cls->Replan(Config(i % 2 ? 2000 : 1000, i % 2 ? 200 : 100), clock.Now());
      (void)tenant->Replan(Config(4000, 400), clock.Now());
    }
  });
  for (int i = 0; i < 5000; ++i) {  // Ticker: 1 ms steps.
    clock.Advance(std::chrono::microseconds(1000));
    std::this_thread::yield();
  }
  stop.store(true);
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(clock.Now() - start).count();
  const double admitted = admitted_milli.load() / 1000.0;
  // A replan to a bigger size scales the balance up (at most 2x of 200), hence the 2x slack.
  EXPECT_LE(admitted, 2 * 200 + 2000 * elapsed + 1) << "elapsed " << elapsed;
  EXPECT_GT(admitted, 0);
  EXPECT_LE(cls->Available(clock.Now()), 200 + 1e-6);
}

// Without replans the bound is tight: size + rate * elapsed, across threads, exactly.
TEST(ShapingStressTest, ConcurrentAcquireExactBound) {
  SimulatedClock clock;
  auto b = *TokenBucket::Create(Config(1000, 50), clock.Now());
  const MonoTime start = clock.Now();
  std::atomic<int64_t> admitted{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      int64_t local = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (b->TryAcquire(1, clock.Now()).admitted()) ++local;
      }
      admitted.fetch_add(local);
    });
  }
  for (int i = 0; i < 2000; ++i) {
    clock.Advance(std::chrono::microseconds(500));
    std::this_thread::yield();
  }
  stop.store(true);
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(clock.Now() - start).count();
  EXPECT_LE(admitted.load(), 50 + 1000 * elapsed + 1e-6);
}

// Lookups race with classes being added and removed; every found bucket is usable.
TEST(ShapingStressTest, RegistryLookupsWhileAddingAndRemoving) {
  SimulatedClock clock;
  BucketRegistry registry(Config(1e6, 1e5), clock.Now());
  ASSERT_TRUE(registry.UpsertTenant("t", Config(1e6, 1e5), clock.Now()).ok());
  std::atomic<bool> stop{false};
  std::atomic<int64_t> found{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      int64_t local = 0;
      for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const ClassKey key{"t", {{"c", std::to_string((i + r) % 64)}}};
        if (auto b = registry.Find(key)) {
          (void)b->TryAcquire(1, clock.Now());
          ++local;
        }
      }
      found.fetch_add(local);
    });
  }
  for (int round = 0; round < 200; ++round) {
    for (int c = 0; c < 64; ++c) {
      const ClassKey key{"t", {{"c", std::to_string(c)}}};
      if ((c + round) % 2) {
        ASSERT_TRUE(registry.UpsertClass(key, Config(100, 10), clock.Now()).ok());
      } else {
        (void)registry.RemoveClass(key);
      }
    }
  }
  stop.store(true);
  for (auto& th : readers) th.join();
  EXPECT_GT(found.load(), 0);
}

}  // namespace
}  // namespace tidegate::shaping
