#include "server/grpc_null_service.h"

namespace tidegate::server {

using envoy::service::ratelimit::v3::RateLimitResponse;

grpc::ServerUnaryReactor* NullRateLimitService::ShouldRateLimit(
    grpc::CallbackServerContext* context,
    const envoy::service::ratelimit::v3::RateLimitRequest* request, RateLimitResponse* response) {
  response->set_overall_code(RateLimitResponse::OK);
  for (int i = 0; i < request->descriptors_size(); ++i) {
    response->add_statuses()->set_code(RateLimitResponse::OK);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace tidegate::server
