// Tests of the YAML configuration (tidegate/server/config.h): envoyproxy/ratelimit-style configs
// load unchanged; tidegate's fields parse; every bad field is refused with file:line: field.
#include "tidegate/server/config.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tidegate::server {
namespace {

using ::testing::HasSubstr;

// Equivalent of the reference README's first example: a per-remote-address limit and an
// exact-value limit, with a nested descriptor.
constexpr char kReferenceStyle[] = R"(domain: mongo_cps
descriptors:
  - key: database
    value: users
    rate_limit:
      unit: second
      requests_per_unit: 500

  - key: database
    value: default
    rate_limit:
      unit: second
      requests_per_unit: 500
)";

// Equivalent of the reference README's nested example with wildcards, shadow_mode, unlimited,
// names and replaces.
constexpr char kReferenceNested[] = R"(---
domain: edge_proxy_per_ip
descriptors:
  - key: remote_address
    rate_limit:
      unit: SECOND
      requests_per_unit: 10
    shadow_mode: true
  - key: remote_address
    value: 10.0.0.1
    rate_limit:
      unlimited: true
  - key: destination_cluster
    value: mongo
    descriptors:
      - key: source_cluster
        rate_limit:
          name: per_source
          unit: minute
          requests_per_unit: 100
      - key: source_cluster
        value: batch
        rate_limit:
          name: batch_limit
          unit: hour
          requests_per_unit: 0
        replaces:
          - name: per_source
        detailed_metric: true
)";

constexpr char kTidegate[] = R"(domain: shop
descriptors:
  - key: class
    value: checkout
    rate_limit: {unit: second, requests_per_unit: 100}
    priority: critical
    weight: 3
    floor: 20
    ceiling: 500
    cost: {cpu_ms: 12.5, requests: 1}
    predict:
      model: ets
      horizons: [1m, 1h, 1d]
      margin: 0.25
      lead_time: 30s
      base_burst: 50
capacity: {cpu_ms: 8000, requests: 2000}
store: {type: sqlite, step: 10s, raw_retention: 3d}
tenants:
  - name: shop
    quota: {unit: second, requests_per_unit: 1000}
    priority: high
unknown_descriptors:
  policy: default
  default_limit: {unit: minute, requests_per_unit: 60}
limits: {max_body_bytes: 65536, max_descriptors: 8}
)";

TEST(ConfigTest, ReferenceStyleLoadsUnchanged) {
  absl::StatusOr<Config> c = ParseConfig(kReferenceStyle, "mongo.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->domains.size(), 1u);
  EXPECT_EQ(c->domains[0].domain, "mongo_cps");
  ASSERT_EQ(c->domains[0].descriptors.size(), 2u);
  const DescriptorRule& r = c->domains[0].descriptors[0];
  EXPECT_EQ(r.key, "database");
  EXPECT_EQ(r.value, "users");
  ASSERT_TRUE(r.rate_limit.has_value());
  EXPECT_EQ(r.rate_limit->requests_per_unit, 500u);
  EXPECT_EQ(r.rate_limit->unit, Unit::kSecond);
  EXPECT_EQ(r.priority, kDefaultPriority);
  EXPECT_EQ(r.location.file, "mongo.yaml");
  EXPECT_EQ(r.location.line, 3);
  EXPECT_EQ(c->version.size(), 16u);
}

TEST(ConfigTest, ReferenceNestedFeatures) {
  absl::StatusOr<Config> c = ParseConfig(kReferenceNested, "edge.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& d = c->domains.at(0).descriptors;
  ASSERT_EQ(d.size(), 3u);
  EXPECT_FALSE(d[0].value.has_value());  // Wildcard.
  EXPECT_TRUE(d[0].shadow_mode);
  EXPECT_EQ(d[0].rate_limit->unit, Unit::kSecond);  // Upper case accepted.
  EXPECT_TRUE(d[1].unlimited);
  EXPECT_FALSE(d[1].rate_limit.has_value());
  EXPECT_FALSE(d[2].rate_limit.has_value());  // A container.
  ASSERT_EQ(d[2].descriptors.size(), 2u);
  EXPECT_EQ(d[2].descriptors[0].name, "per_source");
  EXPECT_EQ(d[2].descriptors[1].rate_limit->requests_per_unit, 0u);
  EXPECT_EQ(d[2].descriptors[1].replaces, std::vector<std::string>{"per_source"});
  EXPECT_TRUE(d[2].descriptors[1].detailed_metric);
}

TEST(ConfigTest, RemoteStores) {
  absl::StatusOr<Config> influx = ParseConfig(
      "store:\n  type: influxdb\n  url: http://127.0.0.1:8086/\n  database: hist\n"
      "  timeout: 2s\n  max_spool_samples: 5000\n  step: 1m\n",
      "s.yaml");
  ASSERT_TRUE(influx.ok()) << influx.status();
  EXPECT_EQ(influx->store.type, StoreType::kInfluxDb);
  EXPECT_EQ(influx->store.url, "http://127.0.0.1:8086");  // Trailing '/' dropped.
  EXPECT_EQ(influx->store.database, "hist");
  EXPECT_EQ(influx->store.timeout, std::chrono::seconds(2));
  EXPECT_EQ(influx->store.max_spool_samples, 5000u);
  EXPECT_EQ(influx->store.step, std::chrono::minutes(1));
  EXPECT_EQ(influx->store.location.file, "s.yaml");
  EXPECT_EQ(influx->store.location.line, 2);

  absl::StatusOr<Config> prom = ParseConfig(
      "store: {type: prometheus, url: 'https://prom.example:9090/sub', selector: 'job=\"tg\"'}\n",
      "p.yaml");
  ASSERT_TRUE(prom.ok()) << prom.status();
  EXPECT_EQ(prom->store.type, StoreType::kPrometheus);
  EXPECT_EQ(prom->store.url, "https://prom.example:9090/sub");
  EXPECT_EQ(prom->store.selector, "job=\"tg\"");
  EXPECT_EQ(StoreTypeName(prom->store.type), "prometheus");
  EXPECT_EQ(ParseConfig("", "e.yaml")->store.type, StoreType::kSqlite);
}

TEST(ConfigTest, TidegateFields) {
  absl::StatusOr<Config> c = ParseConfig(kTidegate, "shop.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const DescriptorRule& r = c->domains.at(0).descriptors.at(0);
  EXPECT_EQ(r.priority, 0);
  EXPECT_EQ(r.weight, 3);
  EXPECT_EQ(r.floor_per_s, 20);
  EXPECT_EQ(r.ceiling_per_s, 500);
  EXPECT_EQ(r.cost.at("cpu_ms"), 12.5);
  ASSERT_TRUE(r.predict.has_value());
  EXPECT_EQ(r.predict->model, "ets");
  EXPECT_EQ(r.predict->horizons.size(), 3u);
  EXPECT_EQ(r.predict->horizons[2], std::chrono::hours(24));
  EXPECT_EQ(r.predict->lead_time, std::chrono::seconds(30));
  EXPECT_EQ(r.predict->base_burst, 50);
  EXPECT_EQ(c->capacity.at("requests"), 2000);
  EXPECT_EQ(c->store.raw_retention, std::chrono::hours(72));
  ASSERT_EQ(c->tenants.size(), 1u);
  EXPECT_EQ(c->tenants[0].quota->requests_per_unit, 1000u);
  EXPECT_EQ(c->tenants[0].priority, 1);
  EXPECT_EQ(c->unknown.policy, UnknownPolicy::kDefault);
  EXPECT_EQ(c->unknown.default_limit->unit, Unit::kMinute);
  EXPECT_EQ(c->limits.max_body_bytes, 65536u);
  EXPECT_EQ(c->limits.max_descriptors, 8u);
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* expected;  // Substring of the message, including file:line.
};

class BadConfigTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfigTest, RefusedWithFileLineAndField) {
  absl::StatusOr<Config> c = ParseConfig(GetParam().yaml, "bad.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfigTest,
    ::testing::Values(
        BadCase{"unknown_top", "domain: a\nfoo: 1\n", "bad.yaml:2: foo: unknown field"},
        BadCase{"unknown_descriptor_field", "domain: a\ndescriptors:\n  - key: k\n    valeu: x\n",
                "bad.yaml:4: descriptors[0].valeu: unknown field"},
        BadCase{"bad_unit",
                "domain: a\ndescriptors:\n  - key: k\n    rate_limit:\n      unit: fortnight\n"
                "      requests_per_unit: 1\n",
                "bad.yaml:5: descriptors[0].rate_limit.unit: 'fortnight' is not one of"},
        BadCase{"missing_rpu",
                "domain: a\ndescriptors:\n  - key: k\n    rate_limit:\n      unit: second\n",
                "bad.yaml:5: descriptors[0].rate_limit.requests_per_unit: required"},
        BadCase{"negative_rpu",
                "domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, "
                "requests_per_unit: -5}\n",
                "descriptors[0].rate_limit.requests_per_unit: '-5' is not a non-negative"},
        BadCase{"missing_key", "domain: a\ndescriptors:\n  - value: x\n",
                "bad.yaml:3: descriptors[0].key: required"},
        BadCase{"empty_key", "domain: a\ndescriptors:\n  - key: ''\n",
                "bad.yaml:3: descriptors[0].key: must not be empty"},
        BadCase{"duplicate",
                "domain: a\ndescriptors:\n  - key: k\n    value: v\n  - key: k\n    value: v\n",
                "bad.yaml:5: descriptors[1]: duplicate descriptor key 'k' with value 'v'"},
        BadCase{"nested_bad",
                "domain: a\ndescriptors:\n  - key: k\n    descriptors:\n      - key: j\n"
                "        shadow_mode: maybe\n",
                "bad.yaml:6: descriptors[0].descriptors[0].shadow_mode: 'maybe' is not true"},
        BadCase{"bad_priority",
                "domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, "
                "requests_per_unit: 1}\n    priority: urgent\n",
                "bad.yaml:5: descriptors[0].priority: 'urgent' is not one of"},
        BadCase{"weight_zero",
                "domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, "
                "requests_per_unit: 1}\n    weight: 0\n",
                "bad.yaml:5: descriptors[0].weight: 0 must be > 0"},
        BadCase{"ceiling_below_floor",
                "domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, "
                "requests_per_unit: 1}\n    floor: 10\n    ceiling: 5\n",
                "bad.yaml:6: descriptors[0].ceiling: 5 must be > 0 and >= floor"},
        BadCase{"priority_without_limit",
                "domain: a\ndescriptors:\n  - key: k\n    priority: high\n",
                "descriptors[0]: priority, weight, floor, ceiling, cost and predict need"},
        BadCase{"bad_cost_resource",
                "domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, "
                "requests_per_unit: 1}\n    cost: {CPU: 1}\n",
                "descriptors[0].cost.CPU: a resource name must match"},
        BadCase{"bad_model",
                "domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, "
                "requests_per_unit: 1}\n    predict: {model: crystal_ball}\n",
                "descriptors[0].predict.model: 'crystal_ball' is not one of"},
        BadCase{"bad_duration",
                "domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, "
                "requests_per_unit: 1}\n    predict: {lead_time: soon}\n",
                "descriptors[0].predict.lead_time: 'soon' is not a duration"},
        BadCase{"unlimited_with_unit",
                "domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unlimited: true, unit: "
                "second}\n",
                "descriptors[0].rate_limit: unlimited: true excludes unit"},
        BadCase{"descriptors_without_domain", "descriptors: []\n", "bad.yaml:1: domain: required"},
        BadCase{"capacity_zero", "capacity: {cpu_ms: 0}\n",
                "bad.yaml:1: capacity.cpu_ms: 0 must be > 0"},
        BadCase{"capacity_twice", "capacity: {cpu_ms: 1}\n---\ncapacity: {cpu_ms: 2}\n",
                "bad.yaml:3: capacity: set more than once"},
        BadCase{"duplicate_domain", "domain: a\n---\ndomain: a\n",
                "bad.yaml:3: domain: duplicate domain 'a' (first defined at bad.yaml:1)"},
        BadCase{"bad_policy", "unknown_descriptors: {policy: shrug}\n",
                "unknown_descriptors.policy: 'shrug' is not one of allow, deny, default"},
        BadCase{"default_without_limit", "unknown_descriptors: {policy: default}\n",
                "unknown_descriptors.default_limit: required with policy: default"},
        BadCase{"limits_entries", "limits: {max_entries: 17}\n",
                "limits.max_entries: 17 is above the maximum 16"},
        BadCase{"store_step", "store: {step: 7s}\n", "store.step: must be > 0 and divide one day"},
        BadCase{"store_type", "store: {type: redis}\n",
                "bad.yaml:1: store.type: 'redis' is not one of sqlite, prometheus, influxdb"},
        BadCase{"store_remote_without_url", "capacity: {requests: 1}\nstore:\n  type: influxdb\n",
                "bad.yaml:3: store.url: required with type influxdb"},
        BadCase{"store_bad_url", "store:\n  type: prometheus\n  url: 127.0.0.1:9090\n",
                "bad.yaml:3: store.url: '127.0.0.1:9090' is not an http:// or https:// URL"},
        BadCase{"store_url_with_sqlite", "store: {url: 'http://x'}\n",
                "store.url: only with type prometheus or influxdb (this store is sqlite)"},
        BadCase{"store_path_with_remote", "store: {type: influxdb, url: 'http://x', path: /tmp}\n",
                "store.path: only with type sqlite (this store is influxdb)"},
        BadCase{"store_database_with_prometheus",
                "store: {type: prometheus, url: 'http://x', database: d}\n",
                "store.database: only with type influxdb (this store is prometheus)"},
        BadCase{"store_selector_braces",
                "store: {type: prometheus, url: 'http://x', selector: '{job=\"a\"}'}\n",
                "store.selector: label matchers such as"},
        BadCase{"store_timeout", "store: {type: influxdb, url: 'http://x', timeout: 5ms}\n",
                "store.timeout: must be in [10ms, 1m]"},
        BadCase{"store_spool_zero",
                "store: {type: influxdb, url: 'http://x', max_spool_samples: 0}\n",
                "store.max_spool_samples: must be > 0"},
        BadCase{"tenant_dup",
                "tenants:\n  - {name: t, quota: {unit: second, requests_per_unit: 1}}\n"
                "  - {name: t, quota: {unit: second, requests_per_unit: 1}}\n",
                "bad.yaml:3: tenants[1].name: duplicate tenant 't'"},
        BadCase{"yaml_syntax", "domain: a\ndescriptors:\n  - key: [unclosed\n",
                "bad.yaml:4: YAML syntax"},
        BadCase{"not_a_map", "- 1\n- 2\n", "bad.yaml:1: : must be a mapping"},
        // A stray ',' made yaml-cpp's own multi-document loader loop forever (found by
        // config_fuzz).
        BadCase{"stray_comma", ",", "bad.yaml:1: YAML syntax"},
        BadCase{"stray_comma_second_document", "domain: a\n---\n# note\n,\n",
                "bad.yaml:4: YAML syntax"},
        BadCase{"third_document_after_end_marker",
                "domain: a\n...\n---\ndomain: b\n...\ndomain: c\nfoo: 1\n",
                "bad.yaml:7: foo: unknown field"},
        BadCase{"rate_too_high",
                "domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, "
                "requests_per_unit: 4000000000}\n",
                "exceeds 1e9 per second"}),
    [](const ::testing::TestParamInfo<BadCase>& p) { return std::string(p.param.name); });

class ConfigDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tidegate_config_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::filesystem::path dir_;
};

TEST_F(ConfigDirTest, LoadsEveryYamlFileOfADirectoryInNameOrder) {
  Write("b.yaml", kReferenceStyle);
  Write("a.yml",
        "domain: alpha\ndescriptors:\n  - key: k\n    rate_limit: {unit: day, "
        "requests_per_unit: 3}\n");
  Write("ignored.txt", "not yaml: [");
  absl::StatusOr<Config> c = LoadConfig(dir_.string());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->domains.size(), 2u);
  EXPECT_EQ(c->domains[0].domain, "alpha");
  EXPECT_EQ(c->domains[1].domain, "mongo_cps");
  EXPECT_EQ(c->sources.size(), 2u);
  const std::string v1 = c->version;
  Write("a.yml", "domain: alpha\n");
  absl::StatusOr<Config> c2 = LoadConfig(dir_.string());
  ASSERT_TRUE(c2.ok()) << c2.status();
  EXPECT_NE(c2->version, v1);
}

TEST_F(ConfigDirTest, DuplicateDomainAcrossFilesNamesBothFiles) {
  Write("a.yaml", "domain: x\n");
  Write("b.yaml", "\n\ndomain: x\n");
  absl::StatusOr<Config> c = LoadConfig(dir_.string());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("b.yaml:3: domain: duplicate domain 'x'"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("a.yaml:1"));
}

TEST_F(ConfigDirTest, MissingPathIsNotFound) {
  absl::StatusOr<Config> c = LoadConfig((dir_ / "nope.yaml").string());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

TEST(ConfigTest, ExamplesLoad) {
  for (const char* name : {"ratelimit-compatible.yaml", "tidegate.yaml"}) {
    const std::string path = std::string(TIDEGATE_SOURCE_DIR) + "/examples/" + name;
    absl::StatusOr<Config> c = LoadConfig(path);
    EXPECT_TRUE(c.ok()) << path << ": " << c.status();
  }
}

constexpr char kAlerting[] = R"yaml(capacity: {cpu_ms: 1000, requests: 500}
alerts:
  evaluation_interval: 10s
  resend_interval: 2m
  external_url: http://tidegate:8080
  alertmanagers: [http://am1:9093, https://am2:9093/]
  webhooks: [{name: chat, url: http://hooks:9000/x}]
  delivery: {timeout: 3s, max_attempts: 4, initial_backoff: 250ms, queue_size: 50}
  rules:
    - name: CpuHigh
      scope: tenant
      tenant: shop
      resource: cpu_ms
      horizon: 1d
      statistic: mean
      op: ">="
      capacity_fraction: 0.75
      for: 90s
      labels: {severity: page}
      annotations: {summary: "cpu {value} > {threshold} ({severity})"}
    - name: Anomalous
      class: shop/class=checkout
      anomaly: {min_score: 0.9, kinds: [spike]}
scaling:
  evaluation_interval: 20s
  services:
    - name: api
      tenant: shop
      classes: [shop/class=checkout]
      per_replica: {cpu_ms: 100, requests: 50}
      target_utilization: 0.6
      min_replicas: 2
      max_replicas: 9
      lead_time: 10m
      scale_down_stabilization: 1h
      statistic: mean
      webhook: http://hooks:9000/scale
)yaml";

TEST(ConfigTest, AlertsAndScaling) {
  absl::StatusOr<Config> c = ParseConfig(kAlerting, "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const alert::AlertsConfig& a = c->alerts;
  EXPECT_EQ(a.evaluation_interval, std::chrono::seconds(10));
  EXPECT_EQ(a.resend_interval, std::chrono::minutes(2));
  EXPECT_EQ(a.external_url, "http://tidegate:8080");
  EXPECT_THAT(a.alertmanagers, ::testing::ElementsAre("http://am1:9093", "https://am2:9093/"));
  ASSERT_EQ(a.webhooks.size(), 1u);
  EXPECT_EQ(a.webhooks[0].url, "http://hooks:9000/x");
  EXPECT_EQ(a.delivery.timeout, std::chrono::seconds(3));
  EXPECT_EQ(a.delivery.max_attempts, 4);
  EXPECT_EQ(a.delivery.initial_backoff, std::chrono::milliseconds(250));
  EXPECT_EQ(a.delivery.queue_capacity, 50u);
  ASSERT_EQ(a.rules.size(), 2u);
  const alert::Rule& r = a.rules[0];
  EXPECT_EQ(r.kind, alert::RuleKind::kThreshold);
  EXPECT_EQ(r.scope, alert::Scope::kTenant);
  EXPECT_EQ(r.tenant, "shop");
  EXPECT_EQ(r.horizon, std::chrono::hours(24));
  EXPECT_EQ(r.statistic, alert::Statistic::kMean);
  EXPECT_EQ(r.op, alert::Comparison::kGreaterEqual);
  EXPECT_EQ(r.capacity_fraction, 0.75);
  EXPECT_FALSE(r.threshold.has_value());
  EXPECT_EQ(r.for_duration, std::chrono::seconds(90));
  EXPECT_EQ(r.labels.at("severity"), "page");
  EXPECT_EQ(r.source, "a.yaml:10");
  EXPECT_EQ(a.rules[1].kind, alert::RuleKind::kAnomaly);
  EXPECT_EQ(a.rules[1].class_key, "shop/class=checkout");
  EXPECT_EQ(a.rules[1].min_score, 0.9);
  EXPECT_THAT(a.rules[1].kinds, ::testing::ElementsAre("spike"));
  ASSERT_EQ(c->scaling.services.size(), 1u);
  const alert::ServiceSpec& s = c->scaling.services[0];
  EXPECT_EQ(c->scaling.evaluation_interval, std::chrono::seconds(20));
  EXPECT_EQ(s.name, "api");
  EXPECT_THAT(s.classes, ::testing::ElementsAre("shop/class=checkout"));
  EXPECT_EQ(s.per_replica.at("requests"), 50);
  EXPECT_EQ(s.target_utilization, 0.6);
  EXPECT_EQ(s.min_replicas, 2);
  EXPECT_EQ(s.max_replicas, 9);
  EXPECT_EQ(s.lead_time, std::chrono::minutes(10));
  EXPECT_EQ(s.scale_down_stabilization, std::chrono::hours(1));
  EXPECT_EQ(s.statistic, alert::Statistic::kMean);
  EXPECT_EQ(s.webhook, "http://hooks:9000/scale");
}

TEST(ConfigTest, AlertsAndScalingErrorsNameFileLineField) {
  struct Case {
    const char* yaml;
    const char* error;
  };
  const Case cases[] = {
      {"alerts: {rules: [{name: X, resource: cpu}]}",
       "t.yaml:1: alerts.rules[0].threshold: exactly one of threshold and capacity_fraction"},
      {"alerts:\n  rules:\n    - {name: X, resource: cpu, threshold: 1, horizon: 2h}",
       "t.yaml:3: alerts.rules[0].horizon: '2h' is not one of 1m, 1h, 1d"},
      {"alerts:\n  rules:\n    - {name: X, resource: cpu, threshold: 1, op: '=='}",
       "t.yaml:3: alerts.rules[0].op: '==' is not one of >, >=, <, <="},
      {"alerts:\n  rules:\n    - {name: X, resource: cpu, threshold: 1, scope: pod}",
       "alerts.rules[0].scope: 'pod' is not one of class, tenant, resource"},
      {"alerts:\n  rules:\n    - {name: X, resource: cpu, threshold: 1, for: soon}",
       "t.yaml:3: alerts.rules[0].for: 'soon' is not a duration"},
      {"alerts:\n  rules:\n    - {name: X, resource: cpu, threshold: high}",
       "t.yaml:3: alerts.rules[0].threshold: 'high' is not a finite number"},
      {"alerts:\n  rules:\n    - {name: X, resource: cpu, threshold: 1, colour: red}",
       "t.yaml:3: alerts.rules[0].colour: unknown field"},
      {"alerts:\n  rules:\n    - {name: 'bad name', resource: cpu, threshold: 1}",
       "t.yaml:3: alerts.rules[0]: name: 'bad name' must match"},
      {"alerts:\n  rules:\n    - {name: X, resource: cpu, threshold: 1, labels: {class: a}}",
       "alerts.rules[0]: labels.class: is set by tidegate"},
      {"alerts:\n  rules:\n    - {name: X, resource: cpu, threshold: 1, annotations: {s: "
       "'{x}'}}",
       "alerts.rules[0]: annotations.s: unknown placeholder {x}"},
      {"alerts:\n  rules:\n    - {name: X, resource: cpu, threshold: 1}\n    - {name: X, "
       "resource: cpu, threshold: 2}",
       "t.yaml:4: alerts.rules[1].name: duplicate rule name 'X'"},
      {"alerts:\n  rules:\n    - {name: X, anomaly: {min_score: 3}}",
       "t.yaml:3: alerts.rules[0].anomaly.min_score: 3 must be in [0, 1]"},
      {"alerts:\n  rules:\n    - {name: X, anomaly: {}, threshold: 3}",
       "t.yaml:3: alerts.rules[0].threshold: not allowed in an anomaly rule"},
      {"alerts:\n  rules:\n    - {name: X, resource: cpu, capacity_fraction: 0.5}",
       "t.yaml:3: alerts.rules[0].capacity_fraction: no capacity is configured for resource "
       "'cpu'"},
      {"alerts:\n  alertmanagers: ['localhost:9093']",
       "t.yaml:2: alerts.alertmanagers[0]: 'localhost:9093' is not an http:// or https:// URL"},
      {"alerts:\n  webhooks: [{name: a}]", "t.yaml:2: alerts.webhooks[0].url: required"},
      {"alerts:\n  delivery: {max_attempts: 0}", "alerts.delivery.max_attempts: must be >= 1"},
      {"alerts:\n  evaluation_interval: 0s", "alerts.evaluation_interval: must be at least 1s"},
      {"scaling:\n  services:\n    - {name: a}",
       "t.yaml:3: scaling.services[0].per_replica: required"},
      {"scaling:\n  services:\n    - {name: a, per_replica: {cpu: 0}}",
       "t.yaml:3: scaling.services[0].per_replica.cpu: 0 must be > 0"},
      {"scaling:\n  services:\n    - name: a\n      per_replica: {cpu: 1}\n      "
       "target_utilization: 1.5",
       "t.yaml:5: scaling.services[0].target_utilization: 1.5 must be in (0, 1]"},
      {"scaling:\n  services:\n    - name: a\n      per_replica: {cpu: 1}\n      "
       "min_replicas: 5\n      max_replicas: 3",
       "t.yaml:6: scaling.services[0].max_replicas: 3 must be >= 1 and >= min_replicas (5)"},
      {"scaling:\n  services:\n    - name: a\n      per_replica: {cpu: 1}\n      "
       "min_replicas: -1",
       "t.yaml:5: scaling.services[0].min_replicas: '-1' is not a non-negative integer"},
      {"scaling:\n  services:\n    - {name: a, per_replica: {cpu: 1}, statistic: p99}",
       "scaling.services[0].statistic: 'p99' is not one of observed, mean, upper"},
      {"scaling:\n  services:\n    - {name: a, per_replica: {cpu: 1}}\n    - {name: a, "
       "per_replica: {cpu: 1}}",
       "t.yaml:4: scaling.services[1].name: duplicate service name 'a'"},
      {"scaling: {services: [{name: a, per_replica: {cpu: 1}, webhook: 'ftp://x'}]}",
       "scaling.services[0].webhook: 'ftp://x' is not an http"},
      {"alerts: {}\n---\nalerts: {}", "t.yaml:3: alerts: set more than once"},
  };
  for (const Case& k : cases) {
    absl::StatusOr<Config> c = ParseConfig(k.yaml, "t.yaml");
    ASSERT_FALSE(c.ok()) << k.yaml;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(k.error)) << k.yaml;
  }
}

TEST(ConfigTest, BorrowingIsOffByDefaultAndParses) {
  absl::StatusOr<Config> off = ParseConfig("capacity: {requests: 10}", "t.yaml");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->borrowing.borrow.enabled);
  EXPECT_EQ(off->borrowing.resource, "requests");

  absl::StatusOr<Config> c = ParseConfig(R"(capacity: {requests: 100, cpu_ms: 4000}
borrowing:
  enabled: true
  resource: cpu_ms
  horizon: 250ms
  tier_reserve: [0, 0.1, 0.2, 0.5]
  cost_headroom: 2
)",
                                         "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const BorrowingSpec& b = c->borrowing;
  EXPECT_TRUE(b.borrow.enabled);
  EXPECT_EQ(b.resource, "cpu_ms");
  EXPECT_EQ(b.borrow.horizon, std::chrono::milliseconds(250));
  EXPECT_THAT(b.borrow.tier_reserve, ::testing::ElementsAre(0, 0.1, 0.2, 0.5));
  EXPECT_EQ(b.borrow.cost_headroom, 2);
  EXPECT_EQ(b.location.line, 3);  // The section's first field.
}

TEST(ConfigTest, BorrowingErrorsNameFileLineField) {
  struct Case {
    const char* yaml;
    const char* error;
  };
  const Case cases[] = {
      {"capacity: {requests: 10}\nborrowing: {enabled: true, resource: cpu_ms}",
       "t.yaml:2: borrowing.resource: no capacity is configured for resource 'cpu_ms'"},
      {"borrowing: {enabled: true}",
       "t.yaml:1: borrowing.resource: no capacity is configured for resource 'requests'"},
      {"capacity: {requests: 10}\nborrowing:\n  horizon: 0s",
       "t.yaml:3: borrowing.horizon: must be in [1ms, 1h]"},
      {"capacity: {requests: 10}\nborrowing:\n  cost_headroom: -1",
       "t.yaml:3: borrowing.cost_headroom: -1 must be in [0, 1000]"},
      {"borrowing:\n  tier_reserve: [0, 0.2]",
       "t.yaml:2: borrowing.tier_reserve: must be a list of 4 fractions"},
      {"borrowing:\n  tier_reserve: [0, 0.5, 0.3, 0.4]",
       "t.yaml:2: borrowing.tier_reserve: bucket reserve_fraction[2] = 0.3 is below"},
      {"borrowing:\n  tier_reserve: [0.1, 0.2, 0.3, 0.4]",
       "t.yaml:2: borrowing.tier_reserve: bucket reserve_fraction[0] = 0.1"},
      {"borrowing:\n  tier_reserve: [0, 0.2, x, 0.4]",
       "t.yaml:2: borrowing.tier_reserve[2]: 'x' is not a finite number"},
      {"borrowing:\n  enabled: maybe", "t.yaml:2: borrowing.enabled: 'maybe' is not true or false"},
      {"borrowing:\n  resource: CPU", "t.yaml:2: borrowing.resource: a resource name must match"},
      {"borrowing:\n  pool: 3", "t.yaml:2: borrowing.pool: unknown field"},
      {"borrowing: {}\n---\nborrowing: {}", "t.yaml:3: borrowing: set more than once"},
  };
  for (const Case& k : cases) {
    absl::StatusOr<Config> c = ParseConfig(k.yaml, "t.yaml");
    ASSERT_FALSE(c.ok()) << k.yaml;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(k.error)) << k.yaml;
  }
}

TEST(UnitTest, ParseAndRate) {
  EXPECT_EQ(*ParseUnit("Minute"), Unit::kMinute);
  EXPECT_EQ(ParseUnit("year").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_DOUBLE_EQ((RateLimit{120, Unit::kMinute}).rate_per_s(), 2.0);
  EXPECT_DOUBLE_EQ((RateLimit{86400, Unit::kDay}).rate_per_s(), 1.0);
}

}  // namespace
}  // namespace tidegate::server
