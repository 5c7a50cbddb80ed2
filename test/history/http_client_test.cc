// HttpClient against real loopback sockets: answers, HTTP errors, a hung server (timeout) and a
// closed port. The timeout test waits on real time (a real socket), bounded by 300 ms.
#include "tidegate/history/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "history/http_test_server.h"

namespace tidegate::history {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST(HttpClientTest, RejectsBadOptions) {
  auto c = HttpClient::Create({.timeout = milliseconds(0)});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("timeout"));
}

TEST(HttpClientTest, GetAndPost) {
  testing::TestHttpServer server(
      [](const std::string& method, const std::string& target, const std::string& body) {
        return testing::TestHttpResponse{method == "GET" ? 200 : 201, method + target + body};
      });
  ASSERT_TRUE(server.ok());
  auto client = *HttpClient::Create();
  auto r = client->Get(BuildUrl(server.url() + "/", "/x", {{"q", "a b&c"}}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET/x?q=a%20b%26c");
  r = client->Post(server.url() + "/w", "payload", "text/plain");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "POST/wpayload");
}

TEST(HttpClientTest, HungServerTimesOutWithinTheTimeout) {
  testing::TestHttpServer silent([](auto&, auto&, auto&) { return testing::TestHttpResponse{}; },
                                 /*silent=*/true);
  ASSERT_TRUE(silent.ok());
  auto client = *HttpClient::Create({.timeout = milliseconds(300)});
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client->Get(silent.url() + "/slow");
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("timed out after 300 ms"));
  EXPECT_THAT(r.status().message(), HasSubstr("/slow"));
  EXPECT_LT(waited, std::chrono::seconds(3));  // Generous: a loaded CI machine.
}

TEST(HttpClientTest, ClosedPortIsUnavailable) {
  testing::TestHttpServer server([](auto&, auto&, auto&) { return testing::TestHttpResponse{}; });
  const std::string url = server.url();
  server.Stop();
  auto client = *HttpClient::Create({.timeout = milliseconds(2000)});
  auto r = client->Get(url + "/x");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("server unavailable"));
}

TEST(HttpClientTest, StatusFromHttpMapsCodes) {
  EXPECT_TRUE(StatusFromHttp("x", {204, ""}).ok());
  EXPECT_EQ(StatusFromHttp("x", {400, "bad"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusFromHttp("x", {404, ""}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusFromHttp("x", {413, ""}).code(), absl::StatusCode::kResourceExhausted);
  const absl::Status s = StatusFromHttp("InfluxDB write", {503, "overloaded"});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "InfluxDB write: HTTP 503: overloaded");
}

TEST(HttpClientTest, UrlEncodeKeepsUnreserved) {
  EXPECT_EQ(UrlEncode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(UrlEncode("{a=\"b\"}"), "%7Ba%3D%22b%22%7D");
}

}  // namespace
}  // namespace tidegate::history
