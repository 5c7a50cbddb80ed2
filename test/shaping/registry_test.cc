#include "tidegate/shaping/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tidegate::shaping {
namespace {

using ::testing::HasSubstr;

BucketConfig Config(double rate, double size) {
  BucketConfig c;
  c.rate_per_s = rate;
  c.size = size;
  return c;
}

ClassKey Key(std::string tenant, std::vector<std::pair<std::string, std::string>> entries) {
  return ClassKey{std::move(tenant), std::move(entries)};
}

TEST(ClassKeyTest, CanonicalRoundTripsAndPrints) {
  const ClassKey k = Key("shop", {{"class", "checkout"}, {"op", "write"}, {"empty", ""}});
  auto parsed = ClassKey::Parse(k.Canonical());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, k);
  EXPECT_EQ(k.ToString(), "shop/class=checkout,op=write,empty=");
  // Order is significant: Envoy's descriptors are ordered.
  EXPECT_NE(Key("shop", {{"a", "1"}, {"b", "2"}}).Canonical(),
            Key("shop", {{"b", "2"}, {"a", "1"}}).Canonical());
}

TEST(ClassKeyTest, ValidationNamesThePart) {
  EXPECT_THAT(std::string(ValidateClassKey(Key("", {})).message()), HasSubstr("tenant is empty"));
  EXPECT_THAT(std::string(ValidateClassKey(Key("t", {{"", "v"}})).message()),
              HasSubstr("descriptor entry 0 key is empty"));
  EXPECT_THAT(std::string(ValidateClassKey(Key("t", {{"k", "a\nb"}})).message()),
              HasSubstr("descriptor entry 0 value holds control character 0x0a at byte 1"));
  EXPECT_THAT(std::string(ValidateClassKey(Key(std::string(300, 'x'), {})).message()),
              HasSubstr("tenant is 300 bytes long"));
  std::vector<std::pair<std::string, std::string>> many(kMaxDescriptorEntries + 1, {"k", "v"});
  EXPECT_THAT(std::string(ValidateClassKey(Key("t", many)).message()),
              HasSubstr("17 descriptor entries"));
  auto bad = ClassKey::Parse("t\x1enokv");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("no key/value separator"));
}

class RegistryTest : public ::testing::Test {
 protected:
  SimulatedClock clock_;
  BucketRegistry registry_{Config(1000, 100), clock_.Now()};
};

TEST_F(RegistryTest, ClassChargesTenantAndGlobal) {
  ASSERT_TRUE(registry_.UpsertTenant("shop", Config(100, 50), clock_.Now()).ok());
  auto cls =
      registry_.UpsertClass(Key("shop", {{"class", "checkout"}}), Config(10, 5), clock_.Now());
  ASSERT_TRUE(cls.ok()) << cls.status();
  ASSERT_TRUE((*cls)->TryAcquire(3, clock_.Now()).admitted());
  EXPECT_NEAR(registry_.FindTenant("shop")->Available(clock_.Now()), 47, 1e-6);
  EXPECT_NEAR(registry_.global()->Available(clock_.Now()), 97, 1e-6);
  EXPECT_EQ(registry_.Find(Key("shop", {{"class", "checkout"}})), *cls);
  EXPECT_EQ(registry_.class_count(), 1u);
  EXPECT_EQ(registry_.tenant_count(), 1u);
}

TEST_F(RegistryTest, UnknownClassAndTenant) {
  EXPECT_EQ(registry_.Find(Key("nobody", {{"a", "b"}})), nullptr);
  auto got = registry_.Get(Key("nobody", {{"a", "b"}}));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("class nobody/a=b is not configured"));
  EXPECT_EQ(registry_.Get(Key("", {})).status().code(), absl::StatusCode::kInvalidArgument);
  auto cls = registry_.UpsertClass(Key("nobody", {{"a", "b"}}), Config(10, 5), clock_.Now());
  EXPECT_EQ(cls.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(cls.status().message()), HasSubstr("tenant 'nobody'"));
  EXPECT_EQ(registry_.RemoveClass(Key("nobody", {})).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_.RemoveTenant("nobody").code(), absl::StatusCode::kNotFound);
}

TEST_F(RegistryTest, UpsertReplansExistingClass) {
  ASSERT_TRUE(registry_.UpsertTenant("t", Config(100, 50), clock_.Now()).ok());
  auto a = registry_.UpsertClass(Key("t", {{"k", "v"}}), Config(10, 5), clock_.Now());
  auto b = registry_.UpsertClass(Key("t", {{"k", "v"}}), Config(20, 10), clock_.Now());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NEAR((*a)->config().rate_per_s, 20, 1e-9);
  auto bad = registry_.UpsertClass(Key("t", {{"k", "v"}}), Config(-1, 10), clock_.Now());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryTest, TenantWithClassesCannotBeRemoved) {
  ASSERT_TRUE(registry_.UpsertTenant("t", Config(100, 50), clock_.Now()).ok());
  ASSERT_TRUE(registry_.UpsertClass(Key("t", {{"k", "v"}}), Config(10, 5), clock_.Now()).ok());
  absl::Status s = registry_.RemoveTenant("t");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("still has 1 classes"));
  ASSERT_TRUE(registry_.RemoveClass(Key("t", {{"k", "v"}})).ok());
  EXPECT_TRUE(registry_.RemoveTenant("t").ok());
}

TEST_F(RegistryTest, RemovedClassStaysValidForHolders) {
  ASSERT_TRUE(registry_.UpsertTenant("t", Config(100, 50), clock_.Now()).ok());
  auto held = *registry_.UpsertClass(Key("t", {{"k", "v"}}), Config(10, 5), clock_.Now());
  ASSERT_TRUE(registry_.RemoveClass(Key("t", {{"k", "v"}})).ok());
  EXPECT_EQ(registry_.Find(Key("t", {{"k", "v"}})), nullptr);
  EXPECT_TRUE(held->TryAcquire(1, clock_.Now()).admitted());
}

TEST_F(RegistryTest, ForEachVisitsEveryClass) {
  ASSERT_TRUE(registry_.UpsertTenant("t", Config(100, 50), clock_.Now()).ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(
        registry_.UpsertClass(Key("t", {{"class", std::to_string(i)}}), Config(10, 5), clock_.Now())
            .ok());
  }
  int seen = 0;
  registry_.ForEachClass([&](std::string_view key, const std::shared_ptr<TokenBucket>& b) {
    EXPECT_TRUE(ClassKey::Parse(key).ok());
    EXPECT_NE(b, nullptr);
    ++seen;
  });
  EXPECT_EQ(seen, 100);
}

}  // namespace
}  // namespace tidegate::shaping
