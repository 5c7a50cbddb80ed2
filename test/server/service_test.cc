// Tests of the transport-independent core (tidegate/server/service.h) on simulated time.
#include "tidegate/server/service.h"

#include <filesystem>
#include <string>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tidegate/history/sqlite_store.h"

namespace tidegate::server {
namespace {

using ::testing::HasSubstr;

constexpr char kConfig[] = R"(domain: shop
descriptors:
  - key: class
    value: checkout
    rate_limit: {unit: second, requests_per_unit: 5}
    priority: critical
    descriptors:
      - key: op
        value: write
        rate_limit: {unit: minute, requests_per_unit: 2}
  - key: user
    rate_limit: {unit: second, requests_per_unit: 2}
  - key: user
    value: vip
    rate_limit: {unlimited: true}
  - key: beta
    value: "on"
    shadow_mode: true
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: blocked
    value: "yes"
    rate_limit: {unit: second, requests_per_unit: 0}
  - key: container
    value: c
    descriptors:
      - key: leaf
        rate_limit: {name: leaf_limit, unit: second, requests_per_unit: 1}
      - key: leaf
        value: special
        rate_limit: {unit: second, requests_per_unit: 100}
        replaces: [{name: leaf_limit}]
)";

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(kConfig); }

  void Make(const std::string& yaml, const std::string& extra = "") {
    service_.reset();
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("tidegate_service_test_{}_{}", ::getpid(), counter_++);
    std::filesystem::remove_all(dir_);
    absl::StatusOr<Config> config = ParseConfig(yaml + extra, "test.yaml");
    ASSERT_TRUE(config.ok()) << config.status();
    auto store = history::SqliteStore::Open(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    ServiceOptions options;
    options.config = *std::move(config);
    options.store = *std::move(store);
    auto service = Service::Create(std::move(options), clock_);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
  }

  void TearDown() override {
    service_.reset();
    std::filesystem::remove_all(dir_);
  }

  static CheckRequest Req(std::vector<std::vector<Entry>> descriptors,
                          std::string domain = "shop") {
    CheckRequest r;
    r.domain = std::move(domain);
    for (auto& e : descriptors) r.descriptors.push_back(Descriptor{std::move(e), {}, {}});
    return r;
  }

  CheckResponse MustCheck(const CheckRequest& r) {
    absl::StatusOr<CheckResponse> resp = service_->Check(r);
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? *resp : CheckResponse{};
  }

  SimulatedClock clock_;
  std::filesystem::path dir_;
  int counter_ = 0;
  std::unique_ptr<Service> service_;
};

TEST_F(ServiceTest, AdmitsUntilTheBucketIsEmptyThenRefills) {
  const CheckRequest r = Req({{{"class", "checkout"}}});
  for (int i = 0; i < 5; ++i) {
    CheckResponse resp = MustCheck(r);
    ASSERT_EQ(resp.overall_code, Code::kOk) << i;
    EXPECT_EQ(resp.statuses[0].limit_remaining, static_cast<uint32_t>(4 - i));
    EXPECT_EQ(resp.statuses[0].current_limit, (RateLimit{5, Unit::kSecond}));
    EXPECT_EQ(resp.statuses[0].class_key, "shop/class=checkout");
  }
  CheckResponse refused = MustCheck(r);
  EXPECT_EQ(refused.overall_code, Code::kOverLimit);
  EXPECT_EQ(refused.statuses[0].code, Code::kOverLimit);
  EXPECT_EQ(refused.statuses[0].retry_after, std::chrono::milliseconds(200));
  EXPECT_EQ(refused.statuses[0].duration_until_reset, std::chrono::seconds(1));
  clock_.Advance(std::chrono::milliseconds(200));
  EXPECT_EQ(MustCheck(r).overall_code, Code::kOk);
}

TEST_F(ServiceTest, NestedAndWildcardClasses) {
  // Nested rule: its own bucket (2 per minute).
  const CheckRequest w = Req({{{"class", "checkout"}, {"op", "write"}}});
  EXPECT_EQ(MustCheck(w).overall_code, Code::kOk);
  EXPECT_EQ(MustCheck(w).overall_code, Code::kOk);
  EXPECT_EQ(MustCheck(w).overall_code, Code::kOverLimit);
  // Wildcard: one bucket per distinct value.
  const CheckRequest alice = Req({{{"user", "alice"}}});
  const CheckRequest bob = Req({{{"user", "bob"}}});
  EXPECT_EQ(MustCheck(alice).overall_code, Code::kOk);
  EXPECT_EQ(MustCheck(alice).overall_code, Code::kOk);
  EXPECT_EQ(MustCheck(alice).overall_code, Code::kOverLimit);
  EXPECT_EQ(MustCheck(bob).overall_code, Code::kOk);
  EXPECT_EQ(MustCheck(bob).statuses[0].class_key, "shop/user=bob");
  // The exact value beats the wildcard: unlimited.
  for (int i = 0; i < 10; ++i) {
    CheckResponse vip = MustCheck(Req({{{"user", "vip"}}}));
    EXPECT_EQ(vip.overall_code, Code::kOk);
    EXPECT_FALSE(vip.statuses[0].current_limit.has_value());
  }
  absl::StatusOr<ClassInfo> info = service_->GetClass("shop/user=alice");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->dynamic);
  EXPECT_EQ(info->refused, 1u);
  EXPECT_EQ(info->admitted, 2u);
}

TEST_F(ServiceTest, ShadowModeReportsOkAndCounts) {
  const CheckRequest r = Req({{{"beta", "on"}}});
  EXPECT_EQ(MustCheck(r).overall_code, Code::kOk);
  CheckResponse shadow = MustCheck(r);
  EXPECT_EQ(shadow.overall_code, Code::kOk);
  EXPECT_TRUE(shadow.statuses[0].shadow);
  EXPECT_EQ(service_->GetClass("shop/beta=on")->shadow_refused, 1u);
}

TEST_F(ServiceTest, ZeroRequestsPerUnitAlwaysRefuses) {
  CheckResponse r = MustCheck(Req({{{"blocked", "yes"}}}));
  EXPECT_EQ(r.overall_code, Code::kOverLimit);
  EXPECT_EQ(r.statuses[0].current_limit, (RateLimit{0, Unit::kSecond}));
}

TEST_F(ServiceTest, ReplacesDropsTheReplacedLimit) {
  // leaf=x matches the wildcard (leaf_limit, 1/s); leaf=special replaces it.
  const CheckRequest both =
      Req({{{"container", "c"}, {"leaf", "x"}}, {{"container", "c"}, {"leaf", "special"}}});
  for (int i = 0; i < 3; ++i) {
    CheckResponse r = MustCheck(both);
    EXPECT_EQ(r.overall_code, Code::kOk) << i;
    EXPECT_FALSE(r.statuses[0].current_limit.has_value());
  }
  // Alone, the wildcard limit applies.
  const CheckRequest alone = Req({{{"container", "c"}, {"leaf", "x"}}});
  EXPECT_EQ(MustCheck(alone).overall_code, Code::kOk);
  EXPECT_EQ(MustCheck(alone).overall_code, Code::kOverLimit);
}

TEST_F(ServiceTest, RefusedRequestChargesNothing) {
  // Two descriptors: checkout (5/s) admits, user=carol runs out after 2. The third request is
  // refused and must not take a checkout token.
  const CheckRequest r = Req({{{"class", "checkout"}}, {{"user", "carol"}}});
  EXPECT_EQ(MustCheck(r).overall_code, Code::kOk);
  EXPECT_EQ(MustCheck(r).overall_code, Code::kOk);
  CheckResponse third = MustCheck(r);
  EXPECT_EQ(third.overall_code, Code::kOverLimit);
  EXPECT_EQ(third.statuses[0].code, Code::kOk);
  EXPECT_EQ(third.statuses[1].code, Code::kOverLimit);
  EXPECT_NEAR(service_->GetClass("shop/class=checkout")->available, 3.0, 1e-9);
}

TEST_F(ServiceTest, HitsAddendAndRequestLimitOverride) {
  CheckRequest r = Req({{{"class", "checkout"}}});
  r.hits_addend = 4;
  EXPECT_EQ(MustCheck(r).statuses[0].limit_remaining, 1u);
  r.descriptors[0].hits_addend = 2;
  EXPECT_EQ(MustCheck(r).overall_code, Code::kOverLimit);
  // A per-descriptor limit replaces the configured one.
  CheckRequest o = Req({{{"user", "dave"}}});
  o.descriptors[0].limit = RateLimit{10, Unit::kSecond};
  for (int i = 0; i < 10; ++i) ASSERT_EQ(MustCheck(o).overall_code, Code::kOk) << i;
  CheckResponse last = MustCheck(o);
  EXPECT_EQ(last.overall_code, Code::kOverLimit);
  EXPECT_EQ(last.statuses[0].current_limit, (RateLimit{10, Unit::kSecond}));
}

TEST_F(ServiceTest, TierMayOnlyLowerPriority) {
  CheckRequest r = Req({{{"class", "checkout"}}});
  r.tier = 9;
  absl::StatusOr<CheckResponse> bad = service_->Check(r);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("tier: 9"));
}

TEST_F(ServiceTest, MalformedRequestsNameTheField) {
  struct Case {
    CheckRequest request;
    std::string expected;
  };
  std::vector<Case> cases;
  cases.push_back({Req({{{"class", "checkout"}}}, ""), "domain: must not be empty"});
  cases.push_back({Req({}), "descriptors: at least one"});
  cases.push_back({Req({{}}), "descriptors[0].entries: at least one entry"});
  cases.push_back({Req({{{"", "x"}}}), "descriptors[0].entries[0].key: must not be empty"});
  cases.push_back({Req({{{"k", std::string(300, 'v')}}}), "descriptors[0].entries[0].value: 300"});
  cases.push_back({Req({{{"k\n", "v"}}}), "entries[0].key: contains a control character"});
  std::vector<std::vector<Entry>> many(65, std::vector<Entry>{{"k", "v"}});
  cases.push_back({Req(many), "descriptors: 65 given, at most 64"});
  for (const Case& c : cases) {
    absl::StatusOr<CheckResponse> r = service_->Check(c.request);
    ASSERT_FALSE(r.ok()) << c.expected;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.expected));
  }
}

TEST_F(ServiceTest, UnknownPolicyAllow) {
  CheckResponse r = MustCheck(Req({{{"nothing", "here"}}}));
  EXPECT_EQ(r.overall_code, Code::kOk);
  EXPECT_TRUE(r.statuses[0].unknown);
  r = MustCheck(Req({{{"class", "checkout"}}}, "other_domain"));
  EXPECT_EQ(r.overall_code, Code::kOk);
  EXPECT_TRUE(r.statuses[0].unknown);
  // A container without a limit is not a limit either.
  EXPECT_TRUE(MustCheck(Req({{{"container", "c"}}})).statuses[0].unknown);
}

TEST_F(ServiceTest, UnknownPolicyDeny) {
  Make(kConfig, "unknown_descriptors: {policy: deny}\n");
  CheckResponse r = MustCheck(Req({{{"nothing", "here"}}}));
  EXPECT_EQ(r.overall_code, Code::kOverLimit);
  EXPECT_TRUE(r.statuses[0].unknown);
  EXPECT_EQ(MustCheck(Req({{{"k", "v"}}}, "nope")).overall_code, Code::kOverLimit);
}

TEST_F(ServiceTest, UnknownPolicyDefaultClass) {
  Make(kConfig,
       "unknown_descriptors: {policy: default, default_limit: {unit: second, "
       "requests_per_unit: 1}}\n");
  const CheckRequest r = Req({{{"nothing", "here"}}}, "newcomer");
  CheckResponse first = MustCheck(r);
  EXPECT_EQ(first.overall_code, Code::kOk);
  EXPECT_EQ(first.statuses[0].class_key, "newcomer/nothing=here");
  EXPECT_EQ(MustCheck(r).overall_code, Code::kOverLimit);
  absl::StatusOr<ClassInfo> info = service_->GetClass("newcomer/nothing=here");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->source, "default");
}

TEST_F(ServiceTest, MaxClassesBoundsWildcards) {
  Make(kConfig, "limits: {max_classes: 10}\n");
  // The config has 6 fixed classes (checkout, checkout/write, beta, blocked, leaf=special,
  // container has none) — wildcard users fill the rest.
  const size_t fixed = service_->ListClasses().size();
  size_t i = 0;
  for (; fixed + i < 10; ++i) {
    ASSERT_TRUE(service_->Check(Req({{{"user", fmt::format("u{}", i)}}})).ok());
  }
  absl::StatusOr<CheckResponse> r = service_->Check(Req({{{"user", "one_too_many"}}}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("limits.max_classes"));
}

TEST_F(ServiceTest, OverrideChangesTheBucketAndExpires) {
  shaping::ClassKey key{"shop", {{"class", "checkout"}}};
  OverrideRequest o{key, 100.0, 50.0, std::chrono::seconds(30)};
  absl::StatusOr<OverrideInfo> info = service_->SetOverride(o);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->expires_at, clock_.WallNow() + std::chrono::seconds(30));
  absl::StatusOr<ClassInfo> c = service_->GetClass("shop/class=checkout");
  EXPECT_EQ(c->rate_per_s, 100);
  EXPECT_EQ(c->size, 50);
  EXPECT_EQ(c->source, "override");
  // 50 tokens now (proportional carry-over of a full bucket).
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(MustCheck(Req({{{"class", "checkout"}}})).overall_code, Code::kOk);
  clock_.Advance(std::chrono::seconds(31));
  ASSERT_TRUE(service_->Tick().ok());
  c = service_->GetClass("shop/class=checkout");
  EXPECT_EQ(c->rate_per_s, 5);
  EXPECT_EQ(c->size, 5);
  EXPECT_FALSE(c->override_info.has_value());
  EXPECT_EQ(service_->ClearOverride(key).code(), absl::StatusCode::kNotFound);
}

TEST_F(ServiceTest, PlanningSnapshotChangesOnlyWithWhatItShows) {
  const auto find = [](const std::vector<PlanningClass>& v, std::string_view key) {
    auto it = std::find_if(v.begin(), v.end(), [&](const auto& c) { return c.key == key; });
    return it == v.end() ? nullptr : &*it;
  };
  const std::shared_ptr<const std::vector<PlanningClass>> first = service_->PlanningClasses();
  ASSERT_NE(find(*first, "shop/class=checkout"), nullptr);
  EXPECT_FALSE(find(*first, "shop/class=checkout")->has_override);
  // Checks of existing classes and ticks change nothing it shows: the same snapshot.
  MustCheck(Req({{{"class", "checkout"}}}));
  ASSERT_TRUE(service_->Tick().ok());
  EXPECT_EQ(service_->PlanningClasses(), first);

  shaping::ClassKey key{"shop", {{"class", "checkout"}}};
  ASSERT_TRUE(service_->SetOverride({key, 100.0, 50.0, std::chrono::seconds(30)}).ok());
  const std::shared_ptr<const std::vector<PlanningClass>> overridden = service_->PlanningClasses();
  EXPECT_NE(overridden, first);
  EXPECT_TRUE(find(*overridden, "shop/class=checkout")->has_override);
  clock_.Advance(std::chrono::seconds(31));
  ASSERT_TRUE(service_->Tick().ok());  // The override expires.
  const std::shared_ptr<const std::vector<PlanningClass>> expired = service_->PlanningClasses();
  EXPECT_NE(expired, overridden);
  EXPECT_FALSE(find(*expired, "shop/class=checkout")->has_override);

  // A request's own descriptor limit, and a new class.
  CheckRequest limited = Req({{{"class", "checkout"}}});
  limited.descriptors[0].limit = RateLimit{7, Unit::kSecond};
  MustCheck(limited);
  const std::shared_ptr<const std::vector<PlanningClass>> with_limit = service_->PlanningClasses();
  EXPECT_NE(with_limit, expired);
  EXPECT_TRUE(find(*with_limit, "shop/class=checkout")->has_request_limit);
  EXPECT_EQ(service_->PlanningClasses(), with_limit);
}

TEST_F(ServiceTest, OverrideValidation) {
  shaping::ClassKey key{"shop", {{"class", "checkout"}}};
  EXPECT_EQ(service_->SetOverride({key, std::nullopt, std::nullopt, std::chrono::seconds(1)})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<OverrideInfo> r =
      service_->SetOverride({key, -1.0, std::nullopt, std::chrono::seconds(1)});
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("rate_per_s: -1"));
  r = service_->SetOverride({key, 1.0, std::nullopt, Duration::zero()});
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("ttl_seconds"));
  r = service_->SetOverride(
      {{"shop", {{"class", "nope"}}}, 1.0, std::nullopt, std::chrono::seconds(1)});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ServiceTest, ApplyConfigReplansAndDrops) {
  const CheckRequest r = Req({{{"class", "checkout"}}});
  for (int i = 0; i < 3; ++i) MustCheck(r);  // 2 of 5 left.
  const uint64_t gen = service_->config_info().generation;
  absl::StatusOr<Config> next = ParseConfig(
      "domain: shop\ndescriptors:\n  - key: class\n    value: checkout\n    rate_limit: {unit: "
      "second, requests_per_unit: 10}\n",
      "next.yaml");
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE(service_->ApplyConfig(*next).ok());
  EXPECT_EQ(service_->config_info().generation, gen + 1);
  absl::StatusOr<ClassInfo> c = service_->GetClass("shop/class=checkout");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->size, 10);
  EXPECT_NEAR(c->available, 4.0, 1e-9);  // 40 % full carries over.
  EXPECT_EQ(service_->GetClass("shop/beta=on").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(service_->ListClasses().size(), 1u);
}

TEST_F(ServiceTest, SettleTruesUpTheCharge) {
  const CheckRequest r = Req({{{"class", "checkout"}}});
  MustCheck(r);  // 4 left.
  SettleRequest s{"shop", r.descriptors, 1, 3};
  absl::StatusOr<SettleResponse> resp = service_->Settle(s);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->settled, std::vector<std::string>{"shop/class=checkout"});
  EXPECT_NEAR(service_->GetClass("shop/class=checkout")->available, 2.0, 1e-9);
  s.actual = -1;
  EXPECT_EQ(service_->Settle(s).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ServiceTest, ReportsReachTheStoreOnFlush) {
  history::UsageReport u;
  u.tenant = "shop";
  u.descriptors = {{"class", "checkout"}};
  u.cpu_ms = 12;
  u.timestamp = clock_.WallNow();
  ASSERT_TRUE(service_->Report({u, u}).ok());
  history::UsageReport bad = u;
  bad.cpu_ms = -1;
  absl::Status s = service_->Report({u, bad});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("reports[1]"));
  ASSERT_TRUE(service_->Flush().ok());
  auto points = service_->store().Query(
      {"cpu_ms", "shop", "class=checkout"}, clock_.WallNow() - std::chrono::hours(1),
      clock_.WallNow() + std::chrono::hours(1), std::chrono::hours(2), history::Aggregation::kSum);
  ASSERT_TRUE(points.ok()) << points.status();
  ASSERT_EQ(points->size(), 1u);
  EXPECT_EQ((*points)[0].value, 24);  // The rejected batch added nothing.
}

TEST_F(ServiceTest, MetricsNameClassesAndCodes) {
  MustCheck(Req({{{"class", "checkout"}}}));
  const std::string m = service_->RenderMetrics();
  EXPECT_THAT(
      m, HasSubstr(
             "tidegate_decisions_total{tenant=\"shop\",class=\"class=checkout\",code=\"ok\"} 1"));
  EXPECT_THAT(
      m, HasSubstr("tidegate_bucket_rate_per_second{tenant=\"shop\",class=\"class=checkout\"} 5"));
  EXPECT_THAT(m, HasSubstr("# TYPE tidegate_decisions_total counter"));
}

// Borrowing: a pool of 10 requests/s holding one second of them (size 10). A low-tier borrower
// (reserve 0.35) may fill the backlog up to 6.5 requests; a critical class up to all 10.
constexpr char kBorrowConfig[] = R"(capacity: {requests: 10}
borrowing:
  enabled: true
  horizon: 1s
  tier_reserve: [0, 0.2, 0.3, 0.35]
  cost_headroom: 0
tenants:
  - name: capped
    quota: {unit: second, requests_per_unit: 3}
---
domain: shop
descriptors:
  - key: class
    value: crit
    priority: critical
    rate_limit: {unit: second, requests_per_unit: 10}
  - key: class
    value: bulk
    priority: low
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: blocked
    value: "yes"
    rate_limit: {unit: second, requests_per_unit: 0}
---
domain: capped
descriptors:
  - key: class
    value: bulk
    priority: low
    rate_limit: {unit: second, requests_per_unit: 1}
)";

TEST_F(ServiceTest, BorrowingIsOffByDefault) {
  EXPECT_FALSE(service_->pool_info().has_value());
  const std::string m = service_->RenderMetrics();
  EXPECT_THAT(m, ::testing::Not(HasSubstr("tidegate_pool_level_tokens")));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("tidegate_borrowed_total")));
}

TEST_F(ServiceTest, LowerTierBorrowsFromAnIdlePool) {
  Make(kBorrowConfig);
  ASSERT_TRUE(service_->pool_info().has_value());
  EXPECT_EQ(service_->pool_info()->config.size, 10);
  const CheckRequest bulk = Req({{{"class", "bulk"}}});
  // Its own bucket (1) admits one; the pool lends five more, up to a backlog of 6 <= 6.5.
  for (int i = 0; i < 6; ++i) EXPECT_EQ(MustCheck(bulk).overall_code, Code::kOk) << i;
  CheckResponse refused = MustCheck(bulk);
  EXPECT_EQ(refused.overall_code, Code::kOverLimit);
  EXPECT_GT(refused.statuses[0].retry_after, Duration::zero());
  EXPECT_NEAR(service_->pool_info()->available, 4.0, 1e-6);
  EXPECT_EQ(service_->GetClass("shop/class=bulk")->admitted, 6u);
  const std::string m = service_->RenderMetrics();
  EXPECT_THAT(m, HasSubstr("tidegate_borrowed_total{tenant=\"shop\",class=\"class=bulk\"} 5"));
  EXPECT_THAT(m, HasSubstr("tidegate_pool_level_tokens{resource=\"requests\"} 4"));
  EXPECT_THAT(m, HasSubstr("tidegate_pool_size_tokens{resource=\"requests\"} 10"));
  // The pool drains at capacity: after 0.5 s the backlog is 1, and borrowing resumes.
  clock_.Advance(std::chrono::milliseconds(500));
  EXPECT_EQ(MustCheck(bulk).overall_code, Code::kOk);
}

TEST_F(ServiceTest, BorrowerRefusedWhenCriticalWorkFillsThePool) {
  Make(kBorrowConfig);
  const CheckRequest crit = Req({{{"class", "crit"}}});
  const CheckRequest bulk = Req({{{"class", "bulk"}}});
  for (int i = 0; i < 6; ++i) ASSERT_EQ(MustCheck(crit).overall_code, Code::kOk) << i;
  // Its own bucket's token is still assured (backlog 7 <= 10)...
  EXPECT_EQ(MustCheck(bulk).overall_code, Code::kOk);
  // ...but nothing is lent above the low tier's limit (7 + 1 > 6.5).
  EXPECT_EQ(MustCheck(bulk).overall_code, Code::kOverLimit);
  // The critical class keeps the rest of the horizon.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(MustCheck(crit).overall_code, Code::kOk) << i;
  // A full pool refuses even an assured request (its backlog would pass the horizon).
  EXPECT_EQ(MustCheck(crit).overall_code, Code::kOverLimit);
  EXPECT_THAT(service_->RenderMetrics(),
              HasSubstr("tidegate_borrowed_total{tenant=\"shop\",class=\"class=bulk\"} 0"));
}

TEST_F(ServiceTest, BorrowedRequestStillFitsItsTenantQuota) {
  Make(kBorrowConfig);
  const CheckRequest bulk = Req({{{"class", "bulk"}}}, "capped");
  // Tenant quota 3 with the low tier's 20 % tenant reserve: 2.4 tokens for this class. Its own
  // token, then one borrowed; the next borrow would pass the quota and is refused.
  EXPECT_EQ(MustCheck(bulk).overall_code, Code::kOk);
  EXPECT_EQ(MustCheck(bulk).overall_code, Code::kOk);
  EXPECT_EQ(MustCheck(bulk).overall_code, Code::kOverLimit);
  // The refused borrow's pool charge was refunded: the backlog is the two admitted.
  EXPECT_NEAR(service_->pool_info()->available, 8.0, 1e-6);
  EXPECT_THAT(service_->RenderMetrics(),
              HasSubstr("tidegate_borrowed_total{tenant=\"capped\",class=\"class=bulk\"} 1"));
}

TEST_F(ServiceTest, RefusedRequestRefundsThePoolAndTheTenant) {
  Make(kBorrowConfig);
  const CheckRequest bulk = Req({{{"class", "bulk"}}});
  ASSERT_EQ(MustCheck(bulk).overall_code, Code::kOk);  // Own token; backlog 1.
  // Borrowed, but the other descriptor refuses the request: nothing stays charged.
  CheckResponse r = MustCheck(Req({{{"class", "bulk"}}, {{"blocked", "yes"}}}));
  EXPECT_EQ(r.overall_code, Code::kOverLimit);
  EXPECT_EQ(r.statuses[0].code, Code::kOk);
  EXPECT_NEAR(service_->pool_info()->available, 9.0, 1e-6);
  // Settle trues the pool up too: 1 charged, 3 actual.
  SettleRequest s{"shop", bulk.descriptors, 1, 3};
  ASSERT_TRUE(service_->Settle(s).ok());
  EXPECT_NEAR(service_->pool_info()->available, 7.0, 1e-6);
}

TEST_F(ServiceTest, ReloadKeepsThePoolBacklogAndCanTurnItOff) {
  Make(kBorrowConfig);
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(MustCheck(Req({{{"class", "crit"}}})).overall_code, Code::kOk);
  std::string doubled = kBorrowConfig;
  doubled.replace(doubled.find("requests: 10}"), 13, "requests: 20}");
  absl::StatusOr<Config> c = ParseConfig(doubled, "test.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(service_->ApplyConfig(*c).ok());
  // Re-planned in proportion: 60 % full of the new size 20.
  EXPECT_EQ(service_->pool_info()->config.size, 20);
  EXPECT_NEAR(service_->pool_info()->available, 12.0, 1e-6);
  c->borrowing.borrow.enabled = false;
  ASSERT_TRUE(service_->ApplyConfig(*c).ok());
  EXPECT_FALSE(service_->pool_info().has_value());
  // A config built by hand is checked too.
  c->borrowing.borrow.enabled = true;
  c->borrowing.resource = "cpu_ms";
  absl::Status bad = service_->ApplyConfig(*c);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("borrowing.resource"));
}

}  // namespace
}  // namespace tidegate::server
