// tidegate/common/clock.h — the one way tidegate code reads time.
//
// Hot-path math never reads a clock: it takes `now` as an argument (see shaping/token_bucket.h).
// Code that must ask for the time — the planner's tick, the daemon's schedules, the collectors —
// holds a `Clock&`. Production passes `RealClock()`, the only function in the tree that reads the
// system clocks (src/common/real_clock.cc); tests pass a `SimulatedClock` and never sleep.
//
// Two kinds of time:
//  * MonoTime: a monotonic instant (never jumps), for rates, buckets, timeouts and intervals.
//  * WallTime: calendar time (UTC, nanoseconds since the Unix epoch), for history samples,
//    forecasts and anything shown to a person or stored.
//
// Thread-safety: every Clock is safe to call from any thread.
#ifndef TIDEGATE_COMMON_CLOCK_H_
#define TIDEGATE_COMMON_CLOCK_H_

#include <atomic>
#include <chrono>

namespace tidegate {

using Duration = std::chrono::nanoseconds;
using MonoTime = std::chrono::time_point<std::chrono::steady_clock, Duration>;
using WallTime = std::chrono::time_point<std::chrono::system_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime Now() const = 0;
  virtual WallTime WallNow() const = 0;
};

// The process-wide real clock (steady_clock and system_clock). Never null; never destroyed.
Clock& RealClock();

// A manually advanced clock for tests and simulations. Starts at the given instants; only
// Advance/Set move it. Safe to read from many threads while one thread advances it.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(MonoTime mono_start = MonoTime(std::chrono::seconds(1000)),
                          WallTime wall_start = WallTime(std::chrono::seconds(1'700'000'000)))
      : mono_ns_(mono_start.time_since_epoch().count()),
        wall_offset_ns_(wall_start.time_since_epoch().count() -
                        mono_start.time_since_epoch().count()) {}

  MonoTime Now() const override {
    return MonoTime(Duration(mono_ns_.load(std::memory_order_acquire)));
  }
  WallTime WallNow() const override {
    return WallTime(Duration(mono_ns_.load(std::memory_order_acquire) + wall_offset_ns_));
  }
  void Advance(Duration d) { mono_ns_.fetch_add(d.count(), std::memory_order_acq_rel); }
  void SetWall(WallTime t) {
    mono_ns_.store(t.time_since_epoch().count() - wall_offset_ns_, std::memory_order_release);
  }

 private:
  std::atomic<int64_t> mono_ns_;
  const int64_t wall_offset_ns_;  // wall = mono + offset; fixed, so both move together.
};

}  // namespace tidegate

#endif  // TIDEGATE_COMMON_CLOCK_H_
