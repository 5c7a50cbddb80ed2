// The only file in tidegate that reads the system clocks. Everything else receives a Clock& or
// a `now` argument, so that tests and the simulator can run on simulated time.
#include "tidegate/common/clock.h"

namespace tidegate {
namespace {

class SystemClock final : public Clock {
 public:
  MonoTime Now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
  WallTime WallNow() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
};

}  // namespace

Clock& RealClock() {
  static SystemClock* const clock = new SystemClock();  // Never destroyed: safe at exit.
  return *clock;
}

}  // namespace tidegate
