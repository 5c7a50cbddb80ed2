// server/grpc_null_service.h — an Envoy RLS v3 service that admits everything and does nothing
// else: the baseline the gRPC benchmark compares tidegate's RateLimitService against (same proto,
// same server wrapper, same callback API), and a stand-in for tests of the transport.
//
// Every call answers overall_code OK with one OK status per request descriptor.
//
// Thread-safety: stateless; safe from any number of gRPC threads.
#ifndef TIDEGATE_SERVER_GRPC_NULL_SERVICE_H_
#define TIDEGATE_SERVER_GRPC_NULL_SERVICE_H_

#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"

namespace tidegate::server {

class NullRateLimitService final
    : public envoy::service::ratelimit::v3::RateLimitService::CallbackService {
 public:
  grpc::ServerUnaryReactor* ShouldRateLimit(
      grpc::CallbackServerContext* context,
      const envoy::service::ratelimit::v3::RateLimitRequest* request,
      envoy::service::ratelimit::v3::RateLimitResponse* response) override;
};

}  // namespace tidegate::server

#endif  // TIDEGATE_SERVER_GRPC_NULL_SERVICE_H_
