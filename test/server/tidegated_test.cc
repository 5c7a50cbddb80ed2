// End-to-end test of the tidegated binary: starts it on free loopback ports with a temporary data
// directory, checks over HTTP, reloads the config with SIGHUP (bad, then good), and stops it with
// SIGTERM (exit 0, usage flushed to the store); an alert rule on observed rates reaches a real
// Alertmanager and resolves.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
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
    log_ = (dir_ / "log.txt").string();
    auto client = history::HttpClient::Create();
    ASSERT_TRUE(client.ok());
    client_ = *std::move(client);
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // Polls the log for up to 60 s (sanitizer builds start slowly) until it contains `prefix`
  // followed by `suffix`; returns the text between them. Real waiting is unavoidable here: the
  // daemon is another process on the real clock. (No std::regex: GCC 12 warns inside it.)
  std::string WaitFor(const std::string& prefix, const std::string& suffix = "") {
    for (int i = 0; i < 600; ++i) {
      const std::string log = Log();
      for (size_t at = log.find(prefix); at != std::string::npos; at = log.find(prefix, at + 1)) {
        const size_t from = at + prefix.size();
        if (suffix.empty()) return "";
        const size_t to = log.find(suffix, from);
        if (to != std::string::npos && log.find('\n', from) >= to)
          return log.substr(from, to - from);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "no '" << prefix << "..." << suffix << "' in the log:\n" << Log();
    return "";
  }

  void Start() {
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      FILE* f = freopen(log_.c_str(), "w", stderr);
      (void)f;
      const std::string data = (dir_ / "data").string();
      execl(TIDEGATED_PATH, "tidegated", "--config", config_.c_str(), "--data-dir", data.c_str(),
            "--http-listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", nullptr);
      _exit(127);
    }
    const std::string port = WaitFor("HTTP listening on http://127.0.0.1:", "/");
    base_ = "http://127.0.0.1:" + port;
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
  std::string config_, log_, base_;
  pid_t pid_ = -1;
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
  ASSERT_EQ(kill(pid_, SIGHUP), 0);
  WaitFor("config NOT applied");
  EXPECT_THAT(Log(), HasSubstr("config.yaml:5: descriptors[0].rate_limit.requests_per_unit"));
  EXPECT_EQ(Check("a")["statuses"][0]["current_limit"]["requests_per_unit"], 2);

  // A good one: applied (the bucket keeps its level proportionally: empty stays empty).
  std::ofstream(config_) << "domain: shop\ndescriptors:\n  - key: class\n    value: a\n"
                            "    rate_limit: {unit: second, requests_per_unit: 100}\n";
  ASSERT_EQ(kill(pid_, SIGHUP), 0);
  WaitFor("SIGHUP: config version ", " applied");
  EXPECT_EQ(Check("a")["statuses"][0]["current_limit"]["requests_per_unit"], 100);

  // A usage report, then SIGTERM: flushed to the store before exit.
  const std::string report =
      R"({"reports": [{"tenant": "shop", "descriptors": [{"key": "class", "value": "a"}],
          "cpu_ms": 42}]})";
  auto r = client_->Post(base_ + "/v1/report", report, "application/json");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  ASSERT_TRUE(WIFEXITED(status)) << Log();
  EXPECT_EQ(WEXITSTATUS(status), 0) << Log();
  EXPECT_THAT(Log(), HasSubstr("usage flushed to the store"));
  auto store = history::SqliteStore::Open((dir_ / "data").string());
  ASSERT_TRUE(store.ok()) << store.status();
  auto series = (*store)->ListSeries({std::string("cpu_ms"), std::string("shop"), std::nullopt});
  ASSERT_TRUE(series.ok());
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ((*series)[0].class_key, "class=a");
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
  pid_ = fork();
  ASSERT_GE(pid_, 0);
  if (pid_ == 0) {
    FILE* f = freopen(log_.c_str(), "w", stderr);
    (void)f;
    execl(TIDEGATED_PATH, "tidegated", "--config", config_.c_str(), "--http-listen", "127.0.0.1:0",
          nullptr);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_THAT(Log(), HasSubstr("config.yaml:2: flavour: unknown field"));
}

}  // namespace
}  // namespace tidegate::server
