// rls_load — a gRPC load generator for envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit.
//
// Closed loop (default): keeps --concurrency calls in flight for --duration seconds and reports the
// throughput it reached. Open loop (--rate R): issues R calls per second on a fixed schedule (at
// most --concurrency in flight; a call that cannot be issued on time is counted as `skipped`) and
// measures each latency from its scheduled start, so a stalled server is not hidden (no coordinated
// omission). Calls are spread over --channels HTTP/2 connections and cycle through --classes
// distinct descriptors (domain "bench", entry class=c<i>).
//
// Output: one line of key=value pairs (throughput_rps, p50_us, p90_us, p99_us, errors, ...), for
// bench/run_server.sh.
#include <fmt/format.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "tidegate/common/clock.h"

namespace {

namespace rls = envoy::service::ratelimit::v3;
using tidegate::Duration;
using tidegate::MonoTime;

struct Flags {
  std::string target = "127.0.0.1:8081";
  int concurrency = 64;
  double duration_s = 5;
  double warmup_s = 1;
  int channels = 4;
  int threads = 2;
  double rate = 0;  // 0: closed loop.
  int classes = 100;
  std::string label = "";
};

bool ParseFlag(const char* arg, const char* name, std::string* value) {
  const size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = arg + n + 1;
  return true;
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string v;
    if (ParseFlag(argv[i], "--target", &v)) {
      f.target = v;
    } else if (ParseFlag(argv[i], "--concurrency", &v)) {
      f.concurrency = std::atoi(v.c_str());
    } else if (ParseFlag(argv[i], "--duration", &v)) {
      f.duration_s = std::atof(v.c_str());
    } else if (ParseFlag(argv[i], "--warmup", &v)) {
      f.warmup_s = std::atof(v.c_str());
    } else if (ParseFlag(argv[i], "--channels", &v)) {
      f.channels = std::atoi(v.c_str());
    } else if (ParseFlag(argv[i], "--threads", &v)) {
      f.threads = std::atoi(v.c_str());
    } else if (ParseFlag(argv[i], "--rate", &v)) {
      f.rate = std::atof(v.c_str());
    } else if (ParseFlag(argv[i], "--classes", &v)) {
      f.classes = std::atoi(v.c_str());
    } else if (ParseFlag(argv[i], "--label", &v)) {
      f.label = v;
    } else {
      std::fprintf(stderr,
                   "usage: rls_load --target=HOST:PORT [--concurrency=64] [--duration=5] "
                   "[--warmup=1] [--channels=4] [--threads=2] [--rate=0 (closed loop)] "
                   "[--classes=100] [--label=NAME]\n");
      std::exit(2);
    }
  }
  if (f.concurrency < 1 || f.duration_s <= 0 || f.channels < 1 || f.threads < 1 || f.classes < 1 ||
      f.rate < 0 || f.warmup_s < 0) {
    std::fprintf(stderr, "rls_load: flags out of range\n");
    std::exit(2);
  }
  return f;
}

struct Call {
  grpc::ClientContext context;
  rls::RateLimitResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<rls::RateLimitResponse>> reader;
  MonoTime start;
};

class Load {
 public:
  explicit Load(const Flags& flags) : flags_(flags) {
    for (int i = 0; i < flags.channels; ++i) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // One connection per channel.
      args.SetInt("tidegate.bench.channel", i);
      stubs_.push_back(rls::RateLimitService::NewStub(
          grpc::CreateCustomChannel(flags.target, grpc::InsecureChannelCredentials(), args)));
    }
    for (int i = 0; i < flags.classes; ++i) {
      rls::RateLimitRequest request;
      request.set_domain("bench");
      auto* entry = request.add_descriptors()->add_entries();
      entry->set_key("class");
      entry->set_value(fmt::format("c{}", i));
      requests_.push_back(std::move(request));
    }
  }

  void Run() {
    clock_ = &tidegate::RealClock();
    const MonoTime begin = clock_->Now();
    measure_start_ = begin + ToDuration(flags_.warmup_s);
    measure_end_ = measure_start_ + ToDuration(flags_.duration_s);
    std::vector<std::thread> pollers;
    for (int i = 0; i < flags_.threads; ++i) pollers.emplace_back([this] { Poll(); });
    if (flags_.rate == 0) {
      for (int i = 0; i < flags_.concurrency; ++i) Issue(clock_->Now());
      std::this_thread::sleep_until(measure_end_);
    } else {
      Pace(begin);
    }
    running_.store(false);
    // Drain: pollers exit once nothing is in flight.
    while (in_flight_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    cq_.Shutdown();
    for (auto& t : pollers) t.join();
  }

  void Report() {
    std::vector<int64_t> all;
    for (auto& v : latencies_) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) -> double {
      if (all.empty()) return 0;
      const size_t i =
          std::min(all.size() - 1, static_cast<size_t>(p * static_cast<double>(all.size())));
      return static_cast<double>(all[i]) / 1e3;
    };
    std::printf(
        "label=%s mode=%s concurrency=%d rate=%.0f calls=%zu errors=%llu over_limit=%llu "
        "skipped=%llu throughput_rps=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f\n",
        flags_.label.empty() ? "-" : flags_.label.c_str(), flags_.rate == 0 ? "closed" : "open",
        flags_.concurrency, flags_.rate, all.size(),
        static_cast<unsigned long long>(errors_.load()),
        static_cast<unsigned long long>(over_limit_.load()),
        static_cast<unsigned long long>(skipped_.load()),
        static_cast<double>(all.size()) / flags_.duration_s, pct(0.50), pct(0.90), pct(0.99));
    std::fflush(stdout);
  }

 private:
  static Duration ToDuration(double s) { return Duration(static_cast<int64_t>(s * 1e9)); }

  void Issue(MonoTime scheduled) {
    const uint64_t n = next_.fetch_add(1, std::memory_order_relaxed);
    auto* call = new Call;
    call->start = scheduled;
    call->context.set_deadline(std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            (clock_->WallNow() + std::chrono::seconds(10)).time_since_epoch())));
    auto& stub = stubs_[n % stubs_.size()];
    call->reader =
        stub->PrepareAsyncShouldRateLimit(&call->context, requests_[n % requests_.size()], &cq_);
    in_flight_.fetch_add(1);
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
  }

  void Pace(MonoTime begin) {
    const double interval_ns = 1e9 / flags_.rate;
    for (uint64_t k = 0;; ++k) {
      const MonoTime at =
          begin + Duration(static_cast<int64_t>(static_cast<double>(k) * interval_ns));
      if (at >= measure_end_) break;
      std::this_thread::sleep_until(at);
      if (in_flight_.load() >= flags_.concurrency) {
        if (at >= measure_start_) skipped_.fetch_add(1);
        continue;
      }
      Issue(at);
    }
  }

  void Poll() {
    std::vector<int64_t> mine;
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) {
      auto* call = static_cast<Call*>(tag);
      const MonoTime done = clock_->Now();
      if (call->start >= measure_start_ && done <= measure_end_) {
        if (!ok || !call->status.ok()) {
          errors_.fetch_add(1);
        } else {
          if (call->response.overall_code() == rls::RateLimitResponse::OVER_LIMIT) {
            over_limit_.fetch_add(1);
          }
          mine.push_back((done - call->start).count());
        }
      }
      delete call;
      in_flight_.fetch_sub(1);
      if (flags_.rate == 0 && running_.load(std::memory_order_relaxed)) Issue(clock_->Now());
    }
    std::lock_guard<std::mutex> lock(mu_);
    latencies_.push_back(std::move(mine));
  }

  const Flags flags_;
  const tidegate::Clock* clock_ = nullptr;
  std::vector<std::unique_ptr<rls::RateLimitService::Stub>> stubs_;
  std::vector<rls::RateLimitRequest> requests_;
  grpc::CompletionQueue cq_;
  MonoTime measure_start_;
  MonoTime measure_end_;
  std::atomic<bool> running_{true};
  std::atomic<uint64_t> next_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> over_limit_{0};
  std::atomic<uint64_t> skipped_{0};
  std::mutex mu_;
  std::vector<std::vector<int64_t>> latencies_;
};

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  Load load(flags);
  load.Run();
  load.Report();
  return 0;
}
