// End-to-end test of tidegated on a remote history store: the real binary against the real
// Prometheus and InfluxDB that scripts/with-test-servers.sh starts (TIDEGATE_TEST_PROMETHEUS_URL
// with its file_sd target file, TIDEGATE_TEST_INFLUXDB_URL).
//
//  * Round trip: a daemon records demand from checks into the backend, stops (SIGTERM), and a
//    second daemon on a FRESH data directory reads that history back through its forecast route —
//    the history lives in the backend, not in the data directory.
//  * Outage (InfluxDB): the daemon reaches InfluxDB through a TCP relay in this test; the relay is
//    cut, checks keep being admitted, writes fail and are spooled (metrics say so), the relay comes
//    back and the spool drains: no acknowledged step is lost.
//  * Startup against an unreachable backend exits 1 naming the config line and the URL.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tidegate/history/http_client.h"

namespace tidegate::server {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

// The URL a test server variable holds, or a skip (a failure when the servers were promised).
#define REQUIRE_SERVER_ENV(var, out)                                                    \
  do {                                                                                  \
    const char* v = std::getenv(var);                                                   \
    if (v == nullptr) {                                                                 \
      const char* servers = std::getenv("TIDEGATE_TEST_SERVERS");                       \
      if (servers != nullptr && std::string(servers) == "1") FAIL() << var " is unset"; \
      GTEST_SKIP() << "no " var " (run under scripts/with-test-servers.sh)";            \
    }                                                                                   \
    out = v;                                                                            \
  } while (0)

// A TCP relay 127.0.0.1:port -> upstream that can be cut (listener closed, connections reset)
// and restored on the same port: the backend "goes away" without touching the shared server.
class Relay {
 public:
  Relay(std::string upstream_host, int upstream_port)
      : host_(std::move(upstream_host)), upstream_port_(upstream_port) {}
  ~Relay() { Stop(); }

  bool Start() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_, 16) != 0) {
      return false;
    }
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    stop_ = false;
    thread_ = std::thread([this] { Loop(); });
    return true;
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) ::close(listener_);
    listener_ = -1;
  }
  int port() const { return port_; }

 private:
  void Loop() {
    struct Pair {
      int a, b;
    };
    std::vector<Pair> pairs;
    char buf[16384];
    while (!stop_) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (const Pair& p : pairs) {
        fds.push_back({p.a, POLLIN, 0});
        fds.push_back({p.b, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      const size_t polled = pairs.size();  // A pair accepted below has no pollfd yet.
      if (fds[0].revents & POLLIN) {
        const int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        const int u = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        ::inet_pton(AF_INET, host_.c_str(), &a.sin_addr);
        a.sin_port = htons(static_cast<uint16_t>(upstream_port_));
        if (c >= 0 && ::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
          pairs.push_back({c, u});
        } else {
          if (c >= 0) ::close(c);
          ::close(u);
        }
      }
      std::vector<Pair> alive;
      for (size_t i = 0; i < pairs.size(); ++i) {
        if (i >= polled) {
          alive.push_back(pairs[i]);
          continue;
        }
        bool open = true;
        for (int side = 0; side < 2 && open; ++side) {
          const pollfd& f = fds[1 + 2 * i + side];
          if (!(f.revents & (POLLIN | POLLHUP | POLLERR))) continue;
          const int from = side == 0 ? pairs[i].a : pairs[i].b;
          const int to = side == 0 ? pairs[i].b : pairs[i].a;
          const ssize_t n = ::read(from, buf, sizeof buf);
          if (n <= 0 || ::send(to, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) open = false;
        }
        if (open) {
          alive.push_back(pairs[i]);
        } else {
          ::close(pairs[i].a);
          ::close(pairs[i].b);
        }
      }
      pairs = std::move(alive);
    }
    for (const Pair& p : pairs) {
      ::close(p.a);
      ::close(p.b);
    }
  }

  std::string host_;
  int upstream_port_;
  int port_ = 0;  // 0 until the first Start picks one; later Starts reuse it.
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class TidegatedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / fmt::format("tidegated_store_test_{}", ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config_ = (dir_ / "config.yaml").string();
    auto client = history::HttpClient::Create();
    ASSERT_TRUE(client.ok());
    client_ = *std::move(client);
    class_value_ = fmt::format("c{}", ::getpid());
    class_key_ = "shop/class=" + class_value_;
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (!sd_file_.empty()) std::ofstream(sd_file_) << "[]";
    std::filesystem::remove_all(dir_);
  }

  void WriteConfig(const std::string& store) {
    std::ofstream(config_) << fmt::format(
        "domain: shop\ndescriptors:\n  - key: class\n    value: {}\n"
        "    rate_limit: {{unit: second, requests_per_unit: 1000}}\n"
        "store:\n{}",
        class_value_, store);
  }

  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // Polls the log for up to 60 s until it holds `prefix` ... `suffix` on one line; returns the
  // text between them. The daemon is another process on the real clock: real waiting.
  std::string WaitFor(const std::string& prefix, const std::string& suffix) {
    for (int i = 0; i < 600; ++i) {
      const std::string log = Log();
      for (size_t at = log.find(prefix); at != std::string::npos; at = log.find(prefix, at + 1)) {
        const size_t from = at + prefix.size();
        const size_t to = log.find(suffix, from);
        if (to != std::string::npos && log.find('\n', from) >= to) {
          return log.substr(from, to - from);
        }
      }
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "no '" << prefix << "..." << suffix << "' in the log:\n" << Log();
    return "";
  }

  // Starts tidegated on the data directory `data` (under the test's directory).
  void Spawn(const std::string& data) {
    log_ = (dir_ / fmt::format("log{}.txt", ++starts_)).string();
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = freopen(log_.c_str(), "w", stderr);
      (void)f;
      const std::string d = (dir_ / data).string();
      execl(TIDEGATED_PATH, "tidegated", "--config", config_.c_str(), "--data-dir", d.c_str(),
            "--http-listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", nullptr);
      _exit(127);
    }
  }

  // Spawns tidegated and returns its HTTP port once it listens ("" on failure).
  std::string Start(const std::string& data) {
    Spawn(data);
    const std::string port = WaitFor("HTTP listening on http://127.0.0.1:", "/");
    base_ = "http://127.0.0.1:" + port;
    return port;
  }

  int Stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string Check() {
    const std::string body =
        json{{"domain", "shop"},
             {"descriptors", {{{"entries", {{{"key", "class"}, {"value", class_value_}}}}}}}}
            .dump();
    auto r = client_->Post(base_ + "/v1/check", body, "application/json");
    if (!r.ok() || r->status != 200) return "error";
    return json::parse(r->body)["overall_code"];
  }

  // Requests per closed minute as the daemon's forecast route reads them from the store.
  double HistoryRequests() {
    auto r = client_->Get(fmt::format("{}/v1/classes/{}/forecast?horizon=1m", base_, class_key_));
    if (!r.ok() || r->status != 200) return -1;
    const json body = json::parse(r->body);
    double total = 0;
    for (const json& p : body["actual"]) total += p["value"].get<double>() * 60;
    return total;
  }

  // Waits (up to `seconds`) until the history holds `n` requests.
  double WaitForHistory(double n, int seconds) {
    double got = -1;
    for (int i = 0; i < seconds * 2; ++i) {
      got = HistoryRequests();
      if (std::abs(got - n) < 1e-6) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return got;
  }

  double Metric(const std::string& line_prefix) {
    auto r = client_->Get(base_ + "/metrics");
    if (!r.ok()) return -1;
    std::istringstream in(r->body);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(line_prefix + " ", 0) == 0) return std::stod(line.substr(line_prefix.size()));
    }
    return -1;
  }

  // Round trip through a backend: history written by one daemon is read by a fresh one.
  void RoundTrip(const std::function<void(const std::string& port)>& on_start) {
    on_start(Start("data1"));
    constexpr int kChecks = 7;
    for (int i = 0; i < kChecks; ++i) ASSERT_EQ(Check(), "OK");
    // The minute closes, the step is flushed (1 s step + 10 s lateness) and read back.
    EXPECT_NEAR(WaitForHistory(kChecks, 150), kChecks, 1e-6) << Log();
    EXPECT_EQ(Stop(), 0) << Log();

    on_start(Start("data2"));  // A fresh data directory: nothing local to read.
    EXPECT_FALSE(std::filesystem::exists(dir_ / "data2" / "history.sqlite"));
    EXPECT_NEAR(WaitForHistory(kChecks, 30), kChecks, 1e-6) << Log();
    EXPECT_EQ(Stop(), 0) << Log();
  }

  std::filesystem::path dir_;
  std::string config_, log_, base_, class_value_, class_key_, sd_file_;
  int starts_ = 0;
  pid_t pid_ = -1;
  std::unique_ptr<history::HttpClient> client_;
};

TEST_F(TidegatedStoreTest, InfluxDbHistorySurvivesAFreshDataDirectory) {
  std::string url;
  REQUIRE_SERVER_ENV("TIDEGATE_TEST_INFLUXDB_URL", url);
  WriteConfig(fmt::format("  type: influxdb\n  url: {}\n  database: tidegated_{}\n  step: 1s\n",
                          url, ::getpid()));
  RoundTrip([&](const std::string&) {
    EXPECT_THAT(Log(), HasSubstr(fmt::format("store: influxdb at {}", url)));
  });
}

TEST_F(TidegatedStoreTest, PrometheusScrapesTheDaemonAndHistorySurvivesAFreshDataDirectory) {
  std::string url;
  REQUIRE_SERVER_ENV("TIDEGATE_TEST_PROMETHEUS_URL", url);
  REQUIRE_SERVER_ENV("TIDEGATE_TEST_PROMETHEUS_SD_FILE", sd_file_);
  // A stable instance label across restarts (the port changes), also used as the selector so
  // that other tests' series in the same Prometheus do not interfere.
  const std::string instance = fmt::format("tidegated-{}", ::getpid());
  WriteConfig(
      fmt::format("  type: prometheus\n  url: {}\n  selector: 'instance=\"{}\"'\n"
                  "  step: 1s\n",
                  url, instance));
  RoundTrip([&](const std::string& port) {
    std::ofstream(sd_file_) << json::array({{{"targets", {"127.0.0.1:" + port}},
                                             {"labels", {{"instance", instance}}}}})
                                   .dump();
  });
}

TEST_F(TidegatedStoreTest, InfluxDbOutageIsSpooledAndDrainedWithoutLoss) {
  std::string url;
  REQUIRE_SERVER_ENV("TIDEGATE_TEST_INFLUXDB_URL", url);
  const size_t colon = url.rfind(':');
  Relay relay("127.0.0.1", std::stoi(url.substr(colon + 1)));
  ASSERT_TRUE(relay.Start());
  WriteConfig(
      fmt::format("  type: influxdb\n  url: http://127.0.0.1:{}\n  database: tidegated_outage_{}\n"
                  "  step: 1s\n  timeout: 1s\n",
                  relay.port(), ::getpid()));
  Start("data");
  const std::string failures = R"(tidegate_history_write_failures_total{backend="influxdb"})";
  const std::string pending = R"(tidegate_history_spool_samples{backend="influxdb"})";
  EXPECT_EQ(Metric(failures), 0);

  relay.Stop();  // InfluxDB "goes away".
  constexpr int kChecks = 5;
  for (int i = 0; i < kChecks; ++i) EXPECT_EQ(Check(), "OK");  // Admission does not need it.
  // The closed steps cannot be written: they are spooled (up to 1 s step + 10 s lateness).
  double spooled = 0;
  for (int i = 0; i < 60 && spooled <= 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    spooled = Metric(pending);
  }
  EXPECT_GT(spooled, 0) << Log();
  EXPECT_GE(Metric(failures), 1);
  EXPECT_THAT(Log(), HasSubstr("influxdb write failed, spooling to"));
  EXPECT_TRUE(std::filesystem::file_size(dir_ / "data" / "history-spool.jsonl") > 0);

  ASSERT_TRUE(relay.Start());  // Back on the same port.
  WaitFor("store: influxdb answers again", ": spool drained");
  EXPECT_EQ(Metric(pending), 0);
  EXPECT_NEAR(WaitForHistory(kChecks, 150), kChecks, 1e-6) << Log();
  EXPECT_EQ(Stop(), 0) << Log();
}

TEST_F(TidegatedStoreTest, UnreachableBackendAtStartIsAClearError) {
  // Nothing listens on port 1 of the loopback: the connection is refused at once.
  WriteConfig("  type: influxdb\n  url: http://127.0.0.1:1\n  timeout: 1s\n");
  Spawn("data");
  int status = 0;
  ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string log = Log();
  EXPECT_THAT(log, HasSubstr("config.yaml:7: store.url: InfluxDB at http://127.0.0.1:1"));
  EXPECT_THAT(log, HasSubstr("is not usable"));
}

}  // namespace
}  // namespace tidegate::server
