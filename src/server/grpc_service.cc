#include "server/grpc_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "tidegate/common/status.h"

namespace tidegate::server {

namespace rls = envoy::service::ratelimit::v3;
using envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;

namespace {

// Bytes a ClassKey part may not hold (shaping::ValidateClassKey rejects them too; we name the
// field in the protocol's terms).
bool HasControlCharacter(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// `field()` names the field; it is only called on error, so that a valid request formats nothing.
template <typename FieldName>
absl::Status CheckText(std::string_view text, const FieldName& field, size_t max_length,
                       bool may_be_empty) {
  if (text.empty() && !may_be_empty) {
    return absl::InvalidArgumentError(fmt::format("{} is empty", field()));
  }
  if (text.size() > max_length) {
    return absl::InvalidArgumentError(
        fmt::format("{} is {} bytes long; at most {} are allowed (limits.max_key_length)", field(),
                    text.size(), max_length));
  }
  if (HasControlCharacter(text)) {
    return absl::InvalidArgumentError(fmt::format("{} contains a control character", field()));
  }
  return absl::OkStatus();
}

Duration NonNegative(Duration d) { return d < Duration::zero() ? Duration::zero() : d; }

// Whole seconds, rounded up (a client that waits this long is not early).
int64_t CeilSeconds(Duration d) {
  const int64_t ns = NonNegative(d).count();
  return (ns + 999'999'999) / 1'000'000'000;
}

void AddHeader(rls::RateLimitResponse* response, std::string_view key, int64_t value) {
  auto* header = response->add_response_headers_to_add();
  header->set_key(std::string(key));
  header->set_value(fmt::format_int(value).str());
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  // absl::StatusCode and grpc::StatusCode share their numbering (both are google.rpc.Code).
  const auto message = status.message();
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(message.data(), message.size()));
}

}  // namespace

absl::StatusOr<double> ParseSettleAmount(std::string_view text, std::string_view field) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value) || value < 0 || value > static_cast<double>(kMaxHitsAddend)) {
    return absl::InvalidArgumentError(fmt::format("{} '{}' is not a number of hits in [0, {}]",
                                                  field, text.substr(0, 64), kMaxHitsAddend));
  }
  return value;
}

std::optional<Unit> FromProtoUnit(int unit) {
  switch (unit) {
    case 1:  // envoy.type.v3.SECOND
      return Unit::kSecond;
    case 2:  // MINUTE
      return Unit::kMinute;
    case 3:  // HOUR
      return Unit::kHour;
    case 4:  // DAY
      return Unit::kDay;
    case 5:  // MONTH (tidegate: 30 days)
      return Unit::kMonth;
    default:  // UNKNOWN, YEAR, values from a newer proto.
      return std::nullopt;
  }
}

rls::RateLimitResponse::RateLimit ToProtoLimit(const RateLimit& limit) {
  rls::RateLimitResponse::RateLimit out;
  out.set_requests_per_unit(limit.requests_per_unit);
  switch (limit.unit) {
    case Unit::kSecond:
      out.set_unit(rls::RateLimitResponse::RateLimit::SECOND);
      break;
    case Unit::kMinute:
      out.set_unit(rls::RateLimitResponse::RateLimit::MINUTE);
      break;
    case Unit::kHour:
      out.set_unit(rls::RateLimitResponse::RateLimit::HOUR);
      break;
    case Unit::kDay:
      out.set_unit(rls::RateLimitResponse::RateLimit::DAY);
      break;
    case Unit::kMonth:
      out.set_unit(rls::RateLimitResponse::RateLimit::MONTH);
      break;
    case Unit::kWeek:  // Envoy's protocol has no week.
      out.set_unit(rls::RateLimitResponse::RateLimit::UNKNOWN);
      out.set_name(fmt::format("{} per week", limit.requests_per_unit));
      break;
  }
  return out;
}

absl::Status ValidateRateLimitRequest(const rls::RateLimitRequest& request,
                                      const RequestLimits& limits) {
  if (const size_t bytes = request.ByteSizeLong(); bytes > limits.max_body_bytes) {
    return absl::InvalidArgumentError(
        fmt::format("request is {} bytes; at most {} are allowed (limits.max_body_bytes)", bytes,
                    limits.max_body_bytes));
  }
  TIDEGATE_RETURN_IF_ERROR(CheckText(
      request.domain(), [] { return "domain"; }, limits.max_key_length, false));
  const size_t count = static_cast<size_t>(request.descriptors_size());
  if (count == 0) {
    return absl::InvalidArgumentError("descriptors is empty: at least one descriptor is required");
  }
  if (count > limits.max_descriptors) {
    return absl::InvalidArgumentError(fmt::format(
        "descriptors has {} descriptors; at most {} are allowed (limits.max_descriptors)", count,
        limits.max_descriptors));
  }
  if (request.hits_addend() > kMaxHitsAddend) {
    return absl::InvalidArgumentError(
        fmt::format("hits_addend {} exceeds {}", request.hits_addend(), kMaxHitsAddend));
  }
  for (size_t i = 0; i < count; ++i) {
    const RateLimitDescriptor& d = request.descriptors(static_cast<int>(i));
    const size_t entries = static_cast<size_t>(d.entries_size());
    if (entries == 0) {
      return absl::InvalidArgumentError(fmt::format("descriptors[{}].entries is empty", i));
    }
    if (entries > limits.max_entries + 1) {  // +1: room for a settle marker.
      return absl::InvalidArgumentError(
          fmt::format("descriptors[{}].entries has {} entries; at most {} are allowed "
                      "(limits.max_entries)",
                      i, entries, limits.max_entries));
    }
    size_t settle_entries = 0;
    for (size_t j = 0; j < entries; ++j) {
      const auto& e = d.entries(static_cast<int>(j));
      const auto key_name = [&] { return fmt::format("descriptors[{}].entries[{}].key", i, j); };
      const auto value_name = [&] {
        return fmt::format("descriptors[{}].entries[{}].value", i, j);
      };
      TIDEGATE_RETURN_IF_ERROR(CheckText(e.key(), key_name, limits.max_key_length, false));
      TIDEGATE_RETURN_IF_ERROR(CheckText(e.value(), value_name, limits.max_key_length, true));
      if (e.key() == kSettleEntryKey) {
        if (++settle_entries > 1) {
          return absl::InvalidArgumentError(fmt::format(
              "descriptors[{}].entries[{}]: a second '{}' entry", i, j, kSettleEntryKey));
        }
        TIDEGATE_RETURN_IF_ERROR(
            ParseSettleAmount(e.value(), fmt::format("descriptors[{}].entries[{}].value", i, j))
                .status());
      }
    }
    if (entries - settle_entries == 0) {
      return absl::InvalidArgumentError(fmt::format(
          "descriptors[{}] has only the '{}' entry: which class to settle?", i, kSettleEntryKey));
    }
    if (entries - settle_entries > limits.max_entries) {
      return absl::InvalidArgumentError(
          fmt::format("descriptors[{}].entries has {} entries; at most {} are allowed "
                      "(limits.max_entries)",
                      i, entries - settle_entries, limits.max_entries));
    }
    if (d.has_limit()) {
      // requests_per_unit 0 is valid: it refuses everything (envoyproxy/ratelimit's semantics).
      if (!FromProtoUnit(d.limit().unit()).has_value()) {
        return absl::InvalidArgumentError(fmt::format(
            "descriptors[{}].limit.unit {} is not supported (SECOND, MINUTE, HOUR, DAY, MONTH)", i,
            static_cast<int>(d.limit().unit())));
      }
    }
    if (d.has_hits_addend() && d.hits_addend().value() > kMaxHitsAddend) {
      return absl::InvalidArgumentError(fmt::format("descriptors[{}].hits_addend {} exceeds {}", i,
                                                    d.hits_addend().value(), kMaxHitsAddend));
    }
  }
  return absl::OkStatus();
}

MappedRequest MapRateLimitRequest(const rls::RateLimitRequest& request,
                                  std::optional<double> settle_all) {
  MappedRequest mapped;
  mapped.check.domain = request.domain();
  mapped.check.hits_addend = request.hits_addend();
  const int count = request.descriptors_size();
  mapped.check.descriptors.reserve(static_cast<size_t>(count));
  mapped.check_index.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const RateLimitDescriptor& d = request.descriptors(i);
    Descriptor out;
    out.entries.reserve(static_cast<size_t>(d.entries_size()));
    std::optional<double> charged = settle_all;
    for (const auto& e : d.entries()) {
      if (e.key() == kSettleEntryKey) {
        // Validated; a malformed value cannot reach here, but stay total.
        charged = ParseSettleAmount(e.value(), "settle").value_or(1.0);
        continue;
      }
      out.entries.push_back(Entry{e.key(), e.value()});
    }
    if (charged.has_value()) {
      MappedRequest::Settle settle;
      settle.index = i;
      settle.request.domain = request.domain();
      settle.request.charged = *charged;
      settle.request.actual =
          d.has_hits_addend() ? static_cast<double>(d.hits_addend().value())
                              : static_cast<double>(std::max<uint32_t>(request.hits_addend(), 1));
      settle.request.descriptors.push_back(std::move(out));
      mapped.settles.push_back(std::move(settle));
      continue;
    }
    if (d.has_limit()) {
      const std::optional<Unit> unit = FromProtoUnit(d.limit().unit());
      if (unit.has_value()) out.limit = RateLimit{d.limit().requests_per_unit(), *unit};
    }
    if (d.has_hits_addend()) out.hits_addend = d.hits_addend().value();
    mapped.check.descriptors.push_back(std::move(out));
    mapped.check_index.push_back(i);
  }
  return mapped;
}

void FillRateLimitResponse(const CheckResponse& check, const MappedRequest& mapped,
                           int descriptor_count, rls::RateLimitResponse* response) {
  const bool any_checked = !mapped.check_index.empty();
  response->set_overall_code(any_checked
                                 ? static_cast<rls::RateLimitResponse::Code>(check.overall_code)
                                 : rls::RateLimitResponse::OK);
  for (int i = 0; i < descriptor_count; ++i) {
    response->add_statuses()->set_code(rls::RateLimitResponse::OK);
  }
  // The limit the headers describe: the one with the fewest requests left (the draft's choice
  // when several quota policies apply); on a tie, the one that resets last.
  const DescriptorStatus* tightest = nullptr;
  Duration retry_after{0};
  bool shadow = false;
  const size_t n = std::min(mapped.check_index.size(), check.statuses.size());
  for (size_t k = 0; k < n; ++k) {
    const DescriptorStatus& st = check.statuses[k];
    const int index = mapped.check_index[k];
    if (index < 0 || index >= descriptor_count) continue;
    auto* out = response->mutable_statuses(index);
    out->set_code(static_cast<rls::RateLimitResponse::Code>(st.code));
    shadow = shadow || st.shadow;
    if (!st.current_limit.has_value()) continue;
    *out->mutable_current_limit() = ToProtoLimit(*st.current_limit);
    out->set_limit_remaining(st.limit_remaining);
    const int64_t ns = NonNegative(st.duration_until_reset).count();
    auto* reset = out->mutable_duration_until_reset();
    reset->set_seconds(ns / 1'000'000'000);
    reset->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
    if (st.code == Code::kOverLimit) {
      retry_after =
          std::max(retry_after,
                   st.retry_after > Duration::zero() ? st.retry_after : st.duration_until_reset);
    }
    if (tightest == nullptr || st.limit_remaining < tightest->limit_remaining ||
        (st.limit_remaining == tightest->limit_remaining &&
         st.duration_until_reset > tightest->duration_until_reset)) {
      tightest = &st;
    }
  }
  if (tightest != nullptr) {
    AddHeader(response, "RateLimit-Limit", tightest->current_limit->requests_per_unit);
    AddHeader(response, "RateLimit-Remaining", tightest->limit_remaining);
    AddHeader(response, "RateLimit-Reset", CeilSeconds(tightest->duration_until_reset));
  }
  // No Retry-After for a refusal without a limit (unknown descriptor denied): it will not pass.
  if (response->overall_code() == rls::RateLimitResponse::OVER_LIMIT &&
      retry_after > Duration::zero()) {
    AddHeader(response, "Retry-After", CeilSeconds(retry_after));
  }
  if (shadow) {
    (*response->mutable_dynamic_metadata()->mutable_fields())["tidegate_shadow"].set_bool_value(
        true);
  }
}

absl::Status AuthorizeRlsCall(Service& core, std::optional<std::string_view> authorization,
                              std::string_view domain) {
  const std::shared_ptr<const Config> config = core.config();
  TIDEGATE_ASSIGN_OR_RETURN(
      const Principal principal,
      Authenticate(std::shared_ptr<const AuthSpec>(config, &config->auth), authorization));
  return AuthorizeCheck(principal, domain);
}

absl::Status HandleRateLimitRequest(Service& core, const rls::RateLimitRequest& request,
                                    std::optional<std::string_view> settle_metadata,
                                    rls::RateLimitResponse* response) {
  const std::shared_ptr<const Config> config = core.config();
  TIDEGATE_RETURN_IF_ERROR(ValidateRateLimitRequest(request, config->limits));
  std::optional<double> settle_all;
  if (settle_metadata.has_value()) {
    TIDEGATE_ASSIGN_OR_RETURN(settle_all,
                              ParseSettleAmount(*settle_metadata, "x-tidegate-settle metadata"));
  }
  const MappedRequest mapped = MapRateLimitRequest(request, settle_all);
  // Settle first: a settle error then leaves nothing charged by this call.
  for (const MappedRequest::Settle& settle : mapped.settles) {
    absl::StatusOr<SettleResponse> settled = core.Settle(settle.request);
    if (!settled.ok()) {
      const auto message = settled.status().message();
      return absl::Status(settled.status().code(),
                          fmt::format("descriptors[{}]: {}", settle.index,
                                      std::string_view(message.data(), message.size())));
    }
  }
  CheckResponse check;
  if (!mapped.check.descriptors.empty()) {
    TIDEGATE_ASSIGN_OR_RETURN(check, core.Check(mapped.check));
  }
  FillRateLimitResponse(check, mapped, request.descriptors_size(), response);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* RlsService::ShouldRateLimit(grpc::CallbackServerContext* context,
                                                      const rls::RateLimitRequest* request,
                                                      rls::RateLimitResponse* response) {
  std::optional<std::string_view> settle_metadata;
  const auto& metadata = context->client_metadata();
  if (auto it =
          metadata.find(grpc::string_ref(kSettleMetadataKey.data(), kSettleMetadataKey.size()));
      it != metadata.end()) {
    settle_metadata = std::string_view(it->second.data(), it->second.size());
  }
  std::optional<std::string_view> authorization;
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization = std::string_view(it->second.data(), it->second.size());
  }
  absl::Status status = AuthorizeRlsCall(core_, authorization, request->domain());
  if (status.ok()) status = HandleRateLimitRequest(core_, *request, settle_metadata, response);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status.ok() ? grpc::Status::OK : ToGrpcStatus(status));
  return reactor;
}

}  // namespace tidegate::server
