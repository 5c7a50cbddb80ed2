// Fuzzes the Envoy RLS v3 front end below the transport: random bytes are parsed as a
// RateLimitRequest (as gRPC would), and every parse goes through validation, the mapping onto the
// core's requests and a real tidegate::server::Service (Check and Settle), as ShouldRateLimit does.
//
// Properties: nothing crashes or trips a sanitizer; a request that validation accepts maps every
// descriptor exactly once (to a check or a settle, no settle marker left in an entry list); the
// response has one status per descriptor; an error is only ever InvalidArgument or
// ResourceExhausted (class table full), never a crash or an internal error.
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "envoy/service/ratelimit/v3/rls.pb.h"
#include "server/grpc_service.h"
#include "tidegate/history/sqlite_store.h"
#include "tidegate/server/config.h"
#include "tidegate/server/service.h"

namespace {

using tidegate::server::Service;

constexpr char kConfig[] = R"(domain: shop
descriptors:
  - key: class
    rate_limit: {unit: second, requests_per_unit: 5}
  - key: generic_key
    value: checkout
    shadow_mode: true
    rate_limit: {unit: minute, requests_per_unit: 3}
limits: {max_classes: 1000}
)";

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "rls_request_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

struct Fixture {
  tidegate::SimulatedClock clock;
  std::unique_ptr<Service> core;

  Fixture() {
    auto config = tidegate::server::ParseConfig(kConfig, "fuzz.yaml");
    Check(config.ok(), "fuzz config parses");
    char dir[] = "/tmp/rls_request_fuzz-XXXXXX";
    Check(mkdtemp(dir) != nullptr, "mkdtemp");
    auto store = tidegate::history::SqliteStore::Open(dir);
    Check(store.ok(), "store opens");
    tidegate::server::ServiceOptions options;
    options.config = *std::move(config);
    options.store = *std::move(store);
    auto created = Service::Create(std::move(options), clock);
    Check(created.ok(), "service created");
    core = *std::move(created);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture();  // Shared across inputs, as a daemon's core is.
  envoy::service::ratelimit::v3::RateLimitRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;

  const tidegate::server::RequestLimits limits = fixture->core->config()->limits;
  const absl::Status valid = tidegate::server::ValidateRateLimitRequest(request, limits);
  if (valid.ok()) {
    const auto mapped = tidegate::server::MapRateLimitRequest(request, std::nullopt);
    Check(mapped.check.descriptors.size() + mapped.settles.size() ==
              static_cast<size_t>(request.descriptors_size()),
          "every descriptor mapped once");
    for (const auto& d : mapped.check.descriptors) {
      Check(!d.entries.empty(), "a checked descriptor has entries");
      for (const auto& e : d.entries) {
        Check(e.key != tidegate::server::kSettleEntryKey, "settle marker stripped");
      }
    }
  } else {
    Check(valid.code() == absl::StatusCode::kInvalidArgument, "validation says InvalidArgument");
  }

  envoy::service::ratelimit::v3::RateLimitResponse response;
  const absl::Status handled =
      tidegate::server::HandleRateLimitRequest(*fixture->core, request, std::nullopt, &response);
  if (handled.ok()) {
    Check(valid.ok(), "only valid requests are handled");
    Check(response.statuses_size() == request.descriptors_size(), "one status per descriptor");
  } else {
    Check(handled.code() == absl::StatusCode::kInvalidArgument ||
              handled.code() == absl::StatusCode::kResourceExhausted,
          "errors are InvalidArgument or ResourceExhausted");
  }
  fixture->clock.Advance(std::chrono::milliseconds(size % 200));
  return 0;
}
