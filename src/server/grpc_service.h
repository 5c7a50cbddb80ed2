// server/grpc_service.h — the Envoy RLS v3 gRPC front end of tidegated
// (envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit) over the transport-independent
// core, tidegate::server::Service.
//
// Mapping (one ShouldRateLimit call):
//   0. AuthorizeRlsCall: the `authorization: Bearer <token>` metadata (auth.h); UNAUTHENTICATED
//      or PERMISSION_DENIED (the check scope, the domain among the token's tenants).
//   1. ValidateRateLimitRequest: a malformed request is answered INVALID_ARGUMENT with a message
//      naming the field ("descriptors[2].entries[0].key is empty"); nothing is charged.
//   2. Descriptors carrying the settle marker (below) are settled; the others are checked:
//      RateLimitRequest -> CheckRequest (domain = tenant, descriptor entries = class,
//      per-descriptor limit override and hits_addend, request hits_addend) -> Service::Check ->
//      RateLimitResponse (overall_code, one DescriptorStatus per descriptor with current_limit,
//      limit_remaining and duration_until_reset). Shadow mode is the core's: a refusal by a
//      shadow-mode class comes back OK, and the response's dynamic_metadata then carries
//      {"tidegate_shadow": true}.
//   3. response_headers_to_add carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset
//      (draft-ietf-httpapi-ratelimit-headers: the limit with the fewest remaining requests;
//      Reset in whole seconds, rounded up) whenever some descriptor has a limit, and Retry-After
//      on OVER_LIMIT when a limit says when. Envoy adds them to the downstream response.
//   4. Errors of the core map to the gRPC code of the same number (absl and gRPC share codes).
//
// Settling at stream end: Envoy's rate limit filter sends a second ShouldRateLimit when the stream
// ends for every rate limit policy with `apply_on_stream_done: true`, with that policy's
// descriptors and `hits_addend` (e.g. taken from dynamic metadata: the actual cost), and ignores
// the answer. To make such a call settle (true up) instead of charge again, the policy appends the
// entry
//     ("tidegate.settle", "<hits charged at admission>")        e.g. ("tidegate.settle", "1")
// to its descriptor with a `generic_key` action (descriptor_key: tidegate.settle). tidegate strips
// the entry, finds the same class as the admission call did and charges it
// actual - charged, where actual is the descriptor's hits_addend if set, else the request's
// (0 meaning 1), and charged is the entry's value. A refund (actual < charged) never fills a bucket
// beyond its size; an overrun may put it in debt. Callers other than Envoy may instead send the
// gRPC metadata header `x-tidegate-settle: <charged>`, which marks every descriptor of the call.
// A settled descriptor's status is OK without a limit; no headers are added.
//
// Thread-safety: RlsService is safe for any number of concurrent calls (the core is); it keeps no
// state of its own besides the pointer to the core.
#ifndef TIDEGATE_SERVER_GRPC_SERVICE_H_
#define TIDEGATE_SERVER_GRPC_SERVICE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "tidegate/server/config.h"
#include "tidegate/server/service.h"

namespace tidegate::server {

// The descriptor entry key that marks a descriptor for settlement (see above).
inline constexpr std::string_view kSettleEntryKey = "tidegate.settle";
// The gRPC metadata key that marks a whole call for settlement.
inline constexpr std::string_view kSettleMetadataKey = "x-tidegate-settle";
// Largest hits_addend (request or descriptor) and settle amount accepted; Envoy's own cap.
inline constexpr uint64_t kMaxHitsAddend = 1'000'000'000;

// OK, or InvalidArgument naming the offending field and the limit: a request above
// limits.max_body_bytes (serialized size), empty or over-long domain, no descriptors or
// more than limits.max_descriptors, a descriptor without entries or with more than
// limits.max_entries, an empty entry key, a key or value over limits.max_key_length bytes or with
// a control character, a limit override with a unit tidegate has no equivalent for (UNKNOWN,
// YEAR; an override of 0 requests is valid and refuses everything), a hits_addend above
// kMaxHitsAddend, a settle entry whose value is not a number in [0, kMaxHitsAddend], a settle entry
// that is the descriptor's only entry.
absl::Status ValidateRateLimitRequest(
    const envoy::service::ratelimit::v3::RateLimitRequest& request, const RequestLimits& limits);

// Parses a settle amount ("1", "0.5"); InvalidArgument naming `field` if it is not a finite number
// in [0, kMaxHitsAddend].
absl::StatusOr<double> ParseSettleAmount(std::string_view text, std::string_view field);

// Envoy's RateLimitResponse.RateLimit.Unit for a tidegate unit. A week has no Envoy unit: it is
// reported as UNKNOWN with the limit's name saying "per week" (see ToProtoLimit).
envoy::service::ratelimit::v3::RateLimitResponse::RateLimit ToProtoLimit(const RateLimit& limit);
// tidegate's unit for an Envoy override unit; nullopt for UNKNOWN, YEAR and unknown values.
std::optional<Unit> FromProtoUnit(int envoy_type_v3_rate_limit_unit);

// The descriptors to check and those to settle, as the core's requests. `settle_all` is the
// charged amount from the x-tidegate-settle metadata, if present. The request must be valid
// (ValidateRateLimitRequest). `check_index[i]` / `settle_index[i]` give each part's position in the
// original request.
struct MappedRequest {
  CheckRequest check;
  std::vector<int> check_index;
  struct Settle {
    SettleRequest request;  // One descriptor.
    int index = 0;
  };
  std::vector<Settle> settles;
};
MappedRequest MapRateLimitRequest(const envoy::service::ratelimit::v3::RateLimitRequest& request,
                                  std::optional<double> settle_all);

// Fills `response` from the core's answer for the checked descriptors (statuses at their original
// positions; settled positions OK without a limit), adding the RateLimit-* headers.
void FillRateLimitResponse(const CheckResponse& check, const MappedRequest& mapped,
                           int descriptor_count,
                           envoy::service::ratelimit::v3::RateLimitResponse* response);

// The whole mapping of one call, transport-free (tests and the fuzzer drive it directly).
// `settle_metadata`: the x-tidegate-settle header's value, if the call carried one.
absl::Status HandleRateLimitRequest(Service& core,
                                    const envoy::service::ratelimit::v3::RateLimitRequest& request,
                                    std::optional<std::string_view> settle_metadata,
                                    envoy::service::ratelimit::v3::RateLimitResponse* response);

// Authentication and authorization of one call (auth.h): the bearer token from the
// `authorization` metadata (nullopt when absent), the check scope, and the domain as the tenant.
// Unauthenticated or PermissionDenied naming what is missing; OK for an anonymous call when
// auth.required is false.
absl::Status AuthorizeRlsCall(Service& core, std::optional<std::string_view> authorization,
                              std::string_view domain);

class RlsService final : public envoy::service::ratelimit::v3::RateLimitService::CallbackService {
 public:
  // `core` must outlive the service.
  // (The base class injects its own `Service` name: ours is spelled out.)
  explicit RlsService(tidegate::server::Service& core) : core_(core) {}

  grpc::ServerUnaryReactor* ShouldRateLimit(
      grpc::CallbackServerContext* context,
      const envoy::service::ratelimit::v3::RateLimitRequest* request,
      envoy::service::ratelimit::v3::RateLimitResponse* response) override;

 private:
  tidegate::server::Service& core_;
};

}  // namespace tidegate::server

#endif  // TIDEGATE_SERVER_GRPC_SERVICE_H_
