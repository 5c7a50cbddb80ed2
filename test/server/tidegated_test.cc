// End-to-end test of the tidegated binary: starts it on free loopback ports with a temporary data
// directory, checks over HTTP, reloads the config with SIGHUP (bad, then good) and by editing the
// file, and stops it with SIGTERM (exit 0, usage flushed to the store); an alert rule on observed
// rates reaches a real Alertmanager and resolves; borrowing, when configured, lends an idle pool.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/daemon_process.h"
#include "tidegate/history/http_client.h"
#include "tidegate/history/sqlite_store.h"

namespace tidegate::server {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

class TidegatedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / fmt::format("tidegated_test_{}", ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config_ = (dir_ / "config.yaml").string();
    daemon_.emplace(dir_ / "log.txt");
    auto client = history::HttpClient::Create();
    ASSERT_TRUE(client.ok());
    client_ = *std::move(client);
  }
  void TearDown() override {
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Log() const { return daemon_->Log(); }

  // Waits until the log holds `prefix` followed by `suffix` on one line.
  void WaitFor(const std::string& prefix, const std::string& suffix = "") {
    auto found = daemon_->WaitForLog(prefix, suffix);
    EXPECT_TRUE(found.ok()) << found.status();
  }

  void Start() {
    auto base = test::StartTidegated(*daemon_, TIDEGATED_PATH, config_, dir_ / "data");
    ASSERT_TRUE(base.ok()) << base.status();
    base_ = *base;
  }

  json Check(const std::string& value) {
    const std::string body =
        json{{"domain", "shop"},
             {"descriptors", {{{"entries", {{{"key", "class"}, {"value", value}}}}}}}}
            .dump();
    auto r = client_->Post(base_ + "/v1/check", body, "application/json");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? json::parse(r->body) : json();
  }

  std::filesystem::path dir_;
  std::string config_, base_;
  std::optional<test::DaemonProcess> daemon_;
  std::unique_ptr<history::HttpClient> client_;
};

TEST_F(TidegatedTest, ServesReloadsAndShutsDownGracefully) {
  std::ofstream(config_) << "domain: shop\ndescriptors:\n  - key: class\n    value: a\n"
                            "    rate_limit: {unit: hour, requests_per_unit: 2}\n";
  Start();
  EXPECT_EQ(Check("a")["overall_code"], "OK");
  EXPECT_EQ(Check("a")["overall_code"], "OK");
  EXPECT_EQ(Check("a")["overall_code"], "OVER_LIMIT");
  auto ready = client_->Get(base_ + "/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);

  // A bad config: SIGHUP keeps the old one.
  std::ofstream(config_) << "domain: shop\ndescriptors:\n  - key: class\n    value: a\n"
                            "    rate_limit: {unit: hour, requests_per_unit: many}\n";
  ASSERT_TRUE(daemon_->Signal(SIGHUP).ok());
  WaitFor("config NOT applied");
  EXPECT_THAT(Log(), HasSubstr("config.yaml:5: descriptors[0].rate_limit.requests_per_unit"));
  EXPECT_EQ(Check("a")["statuses"][0]["current_limit"]["requests_per_unit"], 2);

  // A good one: applied (the bucket keeps its level proportionally: empty stays empty).
  std::ofstream(config_) << "domain: shop\ndescriptors:\n  - key: class\n    value: a\n"
                            "    rate_limit: {unit: second, requests_per_unit: 100}\n";
  ASSERT_TRUE(daemon_->Signal(SIGHUP).ok());
  WaitFor("SIGHUP: config version ", " applied");
  EXPECT_EQ(Check("a")["statuses"][0]["current_limit"]["requests_per_unit"], 100);

  // An edit without a signal: the file watch applies it (written to a temporary file and renamed
  // into place, as editors and config management do, so the watch never reads half a file).
  const std::string edited = config_ + ".tmp";
  std::ofstream(edited) << "domain: shop\ndescriptors:\n  - key: class\n    value: a\n"
                           "    rate_limit: {unit: second, requests_per_unit: 200}\n";
  std::filesystem::rename(edited, config_);
  WaitFor("config changed on disk: version ", " applied");
  EXPECT_EQ(Check("a")["statuses"][0]["current_limit"]["requests_per_unit"], 200);

  // A usage report, then SIGTERM: flushed to the store before exit.
  const std::string report =
      R"({"reports": [{"tenant": "shop", "descriptors": [{"key": "class", "value": "a"}],
          "cpu_ms": 42}]})";
  auto r = client_->Post(base_ + "/v1/report", report, "application/json");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  const absl::StatusOr<int> exit_code = daemon_->Stop();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0) << Log();
  EXPECT_THAT(Log(), HasSubstr("usage flushed to the store"));
  auto store = history::SqliteStore::Open((dir_ / "data").string());
  ASSERT_TRUE(store.ok()) << store.status();
  auto series = (*store)->ListSeries({std::string("cpu_ms"), std::string("shop"), std::nullopt});
  ASSERT_TRUE(series.ok());
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ((*series)[0].class_key, "class=a");
}

// `borrowing:` through the HTTP API: a low-priority class of 1 request per hour borrows from an
// idle pool (10 s of 1 request/s; the low tier may fill 6 s of it), and /metrics counts it.
TEST_F(TidegatedTest, BorrowingLendsAnIdlePoolOverHttp) {
  std::ofstream(config_) << "capacity: {requests: 1}\n"
                            "borrowing: {enabled: true, horizon: 10s, cost_headroom: 0}\n"
                            "---\ndomain: shop\ndescriptors:\n  - key: class\n    value: bulk\n"
                            "    priority: low\n"
                            "    rate_limit: {unit: hour, requests_per_unit: 1}\n";
  Start();
  // Its own token, then two borrowed (backlog 3 s of the 6 s allowed, however slow the checks).
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Check("bulk")["overall_code"], "OK") << i;
  auto metrics = client_->Get(base_ + "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(metrics->body,
              HasSubstr("tidegate_borrowed_total{tenant=\"shop\",class=\"class=bulk\"} 2"));
  EXPECT_THAT(metrics->body, HasSubstr("tidegate_pool_level_tokens{resource=\"requests\"}"));
}

// The daemon's alert rules on observed rates, delivered to a real Alertmanager
// (scripts/with-test-servers.sh exports TIDEGATE_TEST_ALERTMANAGER_URL).
TEST_F(TidegatedTest, AlertOnObservedRateReachesAlertmanagerAndResolves) {
  const char* am = std::getenv("TIDEGATE_TEST_ALERTMANAGER_URL");
  if (am == nullptr) {
    const char* servers = std::getenv("TIDEGATE_TEST_SERVERS");
    if (servers != nullptr && std::string(servers) == "1") {
      FAIL() << "TIDEGATE_TEST_SERVERS=1 but TIDEGATE_TEST_ALERTMANAGER_URL is unset";
    }
    GTEST_SKIP() << "no Alertmanager (run under scripts/with-test-servers.sh)";
  }
  const std::string name = fmt::format("TidegatedBusy{}", ::getpid());
  std::ofstream(config_) << fmt::format(
      "domain: shop\ndescriptors:\n  - key: class\n    value: a\n"
      "    rate_limit: {{unit: second, requests_per_unit: 1000}}\n"
      "alerts:\n  evaluation_interval: 1s\n  alertmanagers: ['{}']\n  rules:\n"
      "    - {{name: {}, class: shop/class=a, resource: requests, statistic: observed, "
      "threshold: 0.5}}\n",
      am, name);
  Start();
  auto in_alertmanager = [&]() -> json {
    auto r = client_->Get(history::BuildUrl(am, "/api/v2/alerts",
                                            {{"filter", fmt::format("alertname=\"{}\"", name)}}));
    if (!r.ok() || r->status != 200) return json::array();
    return json::parse(r->body, nullptr, false);
  };
  // Checks at about 5/s until Alertmanager holds the alert (real time: the daemon evaluates once
  // a second on its own clock).
  json got = json::array();
  for (int i = 0; i < 300 && got.empty(); ++i) {
    EXPECT_EQ(Check("a")["overall_code"], "OK");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (i % 5 == 4) got = in_alertmanager();
  }
  ASSERT_EQ(got.size(), 1u) << Log();
  EXPECT_EQ(got[0]["labels"]["class"], "shop/class=a");
  EXPECT_EQ(got[0]["labels"]["resource"], "requests");
  EXPECT_EQ(got[0]["status"]["state"], "active");
  auto alerts = client_->Get(base_ + "/v1/alerts");
  ASSERT_TRUE(alerts.ok());
  EXPECT_EQ(json::parse(alerts->body)["alerts"][0]["state"], "firing") << alerts->body;

  // No more checks: the rate falls to 0, the alert resolves and leaves Alertmanager's list.
  for (int i = 0; i < 300 && !got.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    got = in_alertmanager();
  }
  EXPECT_TRUE(got.empty()) << got.dump();
  alerts = client_->Get(base_ + "/v1/alerts");
  ASSERT_TRUE(alerts.ok());
  EXPECT_EQ(json::parse(alerts->body)["alerts"][0]["state"], "resolved") << alerts->body;
}

TEST_F(TidegatedTest, BadConfigAtStartExitsWithTheError) {
  std::ofstream(config_) << "domain: shop\nflavour: vanilla\n";
  ASSERT_TRUE(
      daemon_->Start({TIDEGATED_PATH, "--config", config_, "--http-listen", "127.0.0.1:0"}).ok());
  const absl::StatusOr<int> exit_code = daemon_->Wait();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 2);
  EXPECT_THAT(Log(), HasSubstr("config.yaml:2: flavour: unknown field"));
}

}  // namespace
}  // namespace tidegate::server
