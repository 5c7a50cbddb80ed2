// tidegate/shaping/registry.h — request classes and the buckets that admit them.
//
// A request class is a tenant plus an ordered list of descriptor entries, as Envoy sends them
// (`domain=shop`, `[("class","checkout"), ("op","write")]`). Each class has a TokenBucket whose
// parent is its tenant's bucket; every tenant bucket's parent is the optional global bucket. A
// request is thus charged at class, tenant and global level in one TryAcquire.
//
// Keys: ClassKey::Canonical() encodes a key as one string with separators that cannot appear in
// a valid key (ValidateClassKey rejects control characters), so lookups can use a string_view
// built without allocation by the caller.
//
// Thread-safety: all methods are safe to call concurrently. Lookups take a shared lock on one of
// kShards shards (chosen by hash), so readers of different classes rarely touch the same cache
// line; Add/Remove take that shard's exclusive lock briefly. A bucket returned by Find stays valid
// as long as the caller holds the shared_ptr, even if the class is removed meanwhile.
#ifndef TIDEGATE_SHAPING_REGISTRY_H_
#define TIDEGATE_SHAPING_REGISTRY_H_

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/shaping/token_bucket.h"

namespace tidegate::shaping {

inline constexpr size_t kMaxKeyPartLength = 256;
inline constexpr size_t kMaxDescriptorEntries = 16;

struct ClassKey {
  std::string tenant;
  std::vector<std::pair<std::string, std::string>> entries;  // (key, value), order significant.

  // "tenant\x1ekey\x1fvalue\x1ekey\x1fvalue". Stable: it may be stored and compared.
  std::string Canonical() const;
  // Inverse of Canonical(); InvalidArgument naming the problem for a malformed string.
  static absl::StatusOr<ClassKey> Parse(std::string_view canonical);
  // "tenant/key=value,key=value", for logs and the API.
  std::string ToString() const;

  friend bool operator==(const ClassKey&, const ClassKey&) = default;
};

// OK, or InvalidArgument naming the part that is empty, too long or holds a control character,
// or the entry count above kMaxDescriptorEntries.
absl::Status ValidateClassKey(const ClassKey& key);

class BucketRegistry {
 public:
  static constexpr size_t kShards = 64;

  // `global`: the root bucket every tenant is charged to, or nullopt for no global limit.
  explicit BucketRegistry(std::optional<BucketConfig> global, MonoTime now);

  // Creates or replans a tenant's bucket. InvalidArgument for a bad name or config.
  absl::Status UpsertTenant(std::string_view tenant, const BucketConfig& config, MonoTime now);
  // Removes a tenant. FailedPrecondition while it still has classes; NotFound if unknown.
  absl::Status RemoveTenant(std::string_view tenant);

  // Creates a class under its (existing) tenant, or replans it if it exists. NotFound when the
  // tenant is unknown; InvalidArgument for a bad key or config.
  absl::StatusOr<std::shared_ptr<TokenBucket>> UpsertClass(const ClassKey& key,
                                                           const BucketConfig& config,
                                                           MonoTime now);
  // NotFound if the class does not exist.
  absl::Status RemoveClass(const ClassKey& key);

  // The class's bucket, or null if there is none. Never allocates for the lookup itself.
  std::shared_ptr<TokenBucket> Find(std::string_view canonical_key) const;
  std::shared_ptr<TokenBucket> Find(const ClassKey& key) const { return Find(key.Canonical()); }
  // As Find, but an unknown class is NotFound naming it ("class shop/class=checkout is not
  // configured"), and a malformed key is InvalidArgument.
  absl::StatusOr<std::shared_ptr<TokenBucket>> Get(const ClassKey& key) const;
  std::shared_ptr<TokenBucket> FindTenant(std::string_view tenant) const;
  TokenBucket* global() const { return global_.get(); }

  // Calls fn(canonical_key, bucket) for every class; a consistent view per shard.
  void ForEachClass(
      const std::function<void(std::string_view, const std::shared_ptr<TokenBucket>&)>& fn) const;
  size_t class_count() const;
  size_t tenant_count() const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map =
      std::unordered_map<std::string, std::shared_ptr<TokenBucket>, StringHash, std::equal_to<>>;
  struct alignas(64) Shard {
    mutable std::shared_mutex mu;
    Map classes;
  };

  Shard& ShardFor(std::string_view key) const { return shards_[StringHash{}(key) % kShards]; }

  std::shared_ptr<TokenBucket> global_;
  mutable std::shared_mutex tenants_mu_;
  Map tenants_;
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> classes_per_tenant_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace tidegate::shaping

#endif  // TIDEGATE_SHAPING_REGISTRY_H_
