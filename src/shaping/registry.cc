#include "tidegate/shaping/registry.h"

#include <fmt/format.h>

#include <mutex>

namespace tidegate::shaping {
namespace {

constexpr char kEntrySep = '\x1e';  // Between tenant and entries, and between entries.
constexpr char kKeyValueSep = '\x1f';

absl::Status ValidatePart(std::string_view what, std::string_view part, bool may_be_empty) {
  if (part.empty() && !may_be_empty) {
    return absl::InvalidArgumentError(fmt::format("{}{}", what, " is empty"));
  }
  if (part.size() > kMaxKeyPartLength) {
    return absl::InvalidArgumentError(fmt::format("{} is {} bytes long: at most {} allowed", what,
                                                  part.size(), kMaxKeyPartLength));
  }
  for (size_t i = 0; i < part.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(part[i]);
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(fmt::format(
          "{} holds control character 0x{:02x} at byte {}", what, static_cast<int>(c), i));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string ClassKey::Canonical() const {
  std::string out = tenant;
  for (const auto& [k, v] : entries) {
    out.push_back(kEntrySep);
    out.append(k);
    out.push_back(kKeyValueSep);
    out.append(v);
  }
  return out;
}

absl::StatusOr<ClassKey> ClassKey::Parse(std::string_view canonical) {
  ClassKey key;
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t end = canonical.find(kEntrySep, start);
    parts.push_back(canonical.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  key.tenant = std::string(parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t sep = parts[i].find(kKeyValueSep);
    if (sep == std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("class key entry {} has no key/value separator", i));
    }
    key.entries.emplace_back(std::string(parts[i].substr(0, sep)),
                             std::string(parts[i].substr(sep + 1)));
  }
  if (absl::Status s = ValidateClassKey(key); !s.ok()) return s;
  return key;
}

std::string ClassKey::ToString() const {
  std::string out = fmt::format("{}{}", tenant, "/");
  for (size_t i = 0; i < entries.size(); ++i) {
    out += fmt::format("{}{}={}", i ? "," : "", entries[i].first, entries[i].second);
  }
  return out;
}

absl::Status ValidateClassKey(const ClassKey& key) {
  if (absl::Status s = ValidatePart("tenant", key.tenant, false); !s.ok()) return s;
  if (key.entries.size() > kMaxDescriptorEntries) {
    return absl::InvalidArgumentError(
        fmt::format("class has {} descriptor entries: at most {} allowed", key.entries.size(),
                    kMaxDescriptorEntries));
  }
  for (size_t i = 0; i < key.entries.size(); ++i) {
    if (absl::Status s =
            ValidatePart(fmt::format("descriptor entry {} key", i), key.entries[i].first, false);
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            ValidatePart(fmt::format("descriptor entry {} value", i), key.entries[i].second, true);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

BucketRegistry::BucketRegistry(std::optional<BucketConfig> global, MonoTime now) {
  if (global.has_value()) {
    auto bucket = TokenBucket::Create(*global, now);
    // An invalid global config leaves the registry without a global level; callers validate the
    // config first (config loading does), so this is the "cannot happen" branch made harmless.
    if (bucket.ok()) global_ = *std::move(bucket);
  }
}

absl::Status BucketRegistry::UpsertTenant(std::string_view tenant, const BucketConfig& config,
                                          MonoTime now) {
  if (absl::Status s = ValidatePart("tenant", tenant, false); !s.ok()) return s;
  if (absl::Status s = ValidateBucketConfig(config); !s.ok()) return s;
  std::unique_lock lock(tenants_mu_);
  if (auto it = tenants_.find(tenant); it != tenants_.end()) {
    return it->second->Replan(config, now);
  }
  auto bucket = TokenBucket::Create(config, now, global_);
  if (!bucket.ok()) return bucket.status();
  tenants_.emplace(std::string(tenant), *std::move(bucket));
  return absl::OkStatus();
}

absl::Status BucketRegistry::RemoveTenant(std::string_view tenant) {
  std::unique_lock lock(tenants_mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) {
    return absl::NotFoundError(fmt::format("{}{}{}", "tenant '", tenant, "' does not exist"));
  }
  if (auto c = classes_per_tenant_.find(tenant); c != classes_per_tenant_.end() && c->second > 0) {
    return absl::FailedPreconditionError(
        fmt::format("tenant '{}' still has {} classes: remove them first", tenant, c->second));
  }
  tenants_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<TokenBucket>> BucketRegistry::UpsertClass(const ClassKey& key,
                                                                         const BucketConfig& config,
                                                                         MonoTime now) {
  if (absl::Status s = ValidateClassKey(key); !s.ok()) return s;
  if (absl::Status s = ValidateBucketConfig(config); !s.ok()) return s;
  const std::string canonical = key.Canonical();
  // Lock order: tenants_mu_ before any shard.
  std::unique_lock tenants_lock(tenants_mu_);
  auto tenant = tenants_.find(key.tenant);
  if (tenant == tenants_.end()) {
    return absl::NotFoundError(fmt::format("{}{}{}{}{}", "tenant '", key.tenant, "' of class ",
                                           key.ToString(), " does not exist"));
  }
  Shard& shard = ShardFor(canonical);
  std::unique_lock lock(shard.mu);
  if (auto it = shard.classes.find(canonical); it != shard.classes.end()) {
    if (absl::Status s = it->second->Replan(config, now); !s.ok()) return s;
    return it->second;
  }
  auto bucket = TokenBucket::Create(config, now, tenant->second);
  if (!bucket.ok()) return bucket.status();
  shard.classes.emplace(canonical, *bucket);
  ++classes_per_tenant_[key.tenant];
  return *std::move(bucket);
}

absl::Status BucketRegistry::RemoveClass(const ClassKey& key) {
  const std::string canonical = key.Canonical();
  std::unique_lock tenants_lock(tenants_mu_);
  Shard& shard = ShardFor(canonical);
  std::unique_lock lock(shard.mu);
  auto it = shard.classes.find(canonical);
  if (it == shard.classes.end()) {
    return absl::NotFoundError(fmt::format("{}{}{}", "class ", key.ToString(), " does not exist"));
  }
  shard.classes.erase(it);
  if (auto c = classes_per_tenant_.find(key.tenant); c != classes_per_tenant_.end()) {
    if (--c->second == 0) classes_per_tenant_.erase(c);
  }
  return absl::OkStatus();
}

std::shared_ptr<TokenBucket> BucketRegistry::Find(std::string_view canonical_key) const {
  const Shard& shard = ShardFor(canonical_key);
  std::shared_lock lock(shard.mu);
  auto it = shard.classes.find(canonical_key);
  return it == shard.classes.end() ? nullptr : it->second;
}

absl::StatusOr<std::shared_ptr<TokenBucket>> BucketRegistry::Get(const ClassKey& key) const {
  if (absl::Status s = ValidateClassKey(key); !s.ok()) return s;
  if (auto bucket = Find(key.Canonical())) return bucket;
  return absl::NotFoundError(fmt::format("class {} is not configured", key.ToString()));
}

std::shared_ptr<TokenBucket> BucketRegistry::FindTenant(std::string_view tenant) const {
  std::shared_lock lock(tenants_mu_);
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? nullptr : it->second;
}

void BucketRegistry::ForEachClass(
    const std::function<void(std::string_view, const std::shared_ptr<TokenBucket>&)>& fn) const {
  for (const Shard& shard : shards_) {
    std::shared_lock lock(shard.mu);
    for (const auto& [key, bucket] : shard.classes) fn(key, bucket);
  }
}

size_t BucketRegistry::class_count() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::shared_lock lock(shard.mu);
    n += shard.classes.size();
  }
  return n;
}

size_t BucketRegistry::tenant_count() const {
  std::shared_lock lock(tenants_mu_);
  return tenants_.size();
}

}  // namespace tidegate::shaping
