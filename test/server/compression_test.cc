#include "server/compression.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace tidegate::server {
namespace {

std::string Gunzip(const std::string& gz) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

std::string Header(const ApiResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

std::string Classes(int n) {
  std::string s = "{\"classes\":[";
  for (int i = 0; i < n; ++i) {
    s += (i ? "," : "") + std::string("{\"key\":\"tenant=t") + std::to_string(i % 7) +
         "/route=/api/v1/items/" + std::to_string(i) + "\",\"rate\":" + std::to_string(i * 3) + "}";
  }
  return s + "]}";
}

TEST(CompressionTest, GzipRoundTripsAndShrinksJson) {
  const std::string json = Classes(2000);
  absl::StatusOr<std::string> gz = Gzip(json);
  ASSERT_TRUE(gz.ok()) << gz.status();
  EXPECT_EQ(gz->substr(0, 2), std::string("\x1f\x8b", 2));
  EXPECT_LT(gz->size() * 4, json.size());
  EXPECT_EQ(Gunzip(*gz), json);
  EXPECT_EQ(Gunzip(*Gzip("")), "");
  EXPECT_EQ(Gzip("x", 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CompressionTest, LargeBodiesAreCompressedForClientsThatAcceptGzip) {
  ApiResponse r;
  r.body = Classes(100);
  ASSERT_GE(r.body.size(), kCompressMinBytes);
  const std::string plain = r.body;
  CompressForClient(r, "br, gzip;q=0.5");
  EXPECT_EQ(Header(r, "Content-Encoding"), "gzip");
  EXPECT_EQ(Header(r, "Vary"), "Accept-Encoding");
  EXPECT_EQ(Gunzip(r.body), plain);
}

TEST(CompressionTest, SmallBodiesRefusalsAndEncodedBodiesAreLeftAlone) {
  ApiResponse small;
  small.body = "{\"allowed\":true}";
  CompressForClient(small, "gzip");
  EXPECT_EQ(small.body, "{\"allowed\":true}");
  EXPECT_TRUE(small.headers.empty());
  for (std::string_view refusal : {"", "br", "gzip;q=0", "identity, gzip; q=0"}) {
    ApiResponse r;
    r.body = Classes(100);
    const std::string plain = r.body;
    CompressForClient(r, refusal);
    EXPECT_EQ(r.body, plain) << refusal;
    EXPECT_EQ(Header(r, "Content-Encoding"), "") << refusal;
  }
  ApiResponse encoded;
  encoded.body = Classes(100);
  encoded.headers.emplace_back("content-encoding", "br");
  const std::string before = encoded.body;
  CompressForClient(encoded, "*");
  EXPECT_EQ(encoded.body, before);
}

}  // namespace
}  // namespace tidegate::server
