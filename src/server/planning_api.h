// server/planning_api.h — the HTTP/JSON routes of the planning loop (forecasts, plans,
// anomalies) and of tenants, used by HttpApi (http_server.cc). api/openapi.yaml documents them.
//
// Thread-safety: the functions only read the Service and Planning (both thread-safe).
#ifndef TIDEGATE_SERVER_PLANNING_API_H_
#define TIDEGATE_SERVER_PLANNING_API_H_

#include <optional>
#include <string_view>

#include "nlohmann/json.hpp"
#include "tidegate/server/http_server.h"
#include "tidegate/server/planning.h"

namespace tidegate::server {

// Handles GET /v1/classes/{key}/forecast, /v1/classes/{key}/plans, /v1/plan, /v1/anomalies and
// /v1/tenants. nullopt when `path` is none of them. `planning` may be null (no planning loop):
// forecasts are then empty and plans absent.
std::optional<ApiResponse> HandlePlanningRoute(Service& service, const Planning* planning,
                                               std::string_view method, std::string_view path,
                                               std::string_view query);

// Adds "state", "planned_rate_per_s" and "planned_size" to a class's JSON (GET /v1/classes).
void AddPlanningFields(const Planning* planning, const ClassInfo& info, nlohmann::json& j);

}  // namespace tidegate::server

#endif  // TIDEGATE_SERVER_PLANNING_API_H_
