#include "server/web_assets.h"

#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/web_assets_data.h"

namespace tidegate::server::web {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string Header(const ApiResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

const EmbeddedAsset* Page() {
  for (const EmbeddedAsset& a : EmbeddedAssets()) {
    if (a.path == "/index.html") return &a;
  }
  return nullptr;
}

TEST(WebAssets, OwnsTheRootAndAssetsOnly) {
  EXPECT_TRUE(IsWebAssetPath("/"));
  EXPECT_TRUE(IsWebAssetPath("/?x=1"));
  EXPECT_TRUE(IsWebAssetPath("/index.html"));
  EXPECT_TRUE(IsWebAssetPath("/assets/app-X.js"));
  EXPECT_FALSE(IsWebAssetPath("/v1/classes"));
  EXPECT_FALSE(IsWebAssetPath("/metrics"));
  EXPECT_FALSE(IsWebAssetPath("/assets"));
}

TEST(WebAssets, AssetsAreSortedWithEtagsAndTypes) {
  const auto assets = EmbeddedAssets();
  for (size_t i = 0; i < assets.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(assets[i - 1].path, assets[i].path);
    }
    EXPECT_EQ(assets[i].etag.size(), 34u) << assets[i].path;
    EXPECT_FALSE(assets[i].content_type.empty()) << assets[i].path;
    EXPECT_FALSE(assets[i].data.empty()) << assets[i].path;
    EXPECT_EQ(assets[i].gzip.substr(0, 2), std::string_view("\x1f\x8b", 2)) << assets[i].path;
  }
}

TEST(WebAssets, ServesThePageRevalidated) {
  const EmbeddedAsset* page = Page();
  if (page == nullptr) {
    const ApiResponse r = ServeWebAsset("GET", "/", "", "");
    EXPECT_EQ(r.status, 404);
    EXPECT_THAT(r.body, HasSubstr("TIDEGATE_BUILD_DASHBOARD=OFF"));
    GTEST_SKIP() << "tidegated built without the dashboard";
  }
  const ApiResponse r = ServeWebAsset("GET", "/", "", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(r.body, page->data);
  EXPECT_THAT(r.body, HasSubstr("<!doctype html>"));
  EXPECT_EQ(Header(r, "Cache-Control"), "no-cache");
  EXPECT_EQ(Header(r, "ETag"), page->etag);
  EXPECT_THAT(Header(r, "Content-Security-Policy"), HasSubstr("default-src 'self'"));
  EXPECT_EQ(Header(r, "Content-Encoding"), "");
  EXPECT_EQ(ServeWebAsset("GET", "/index.html", "", "").body, page->data);
}

TEST(WebAssets, IfNoneMatchAnswers304) {
  const EmbeddedAsset* page = Page();
  if (page == nullptr) GTEST_SKIP() << "tidegated built without the dashboard";
  const std::string etag(page->etag);
  EXPECT_EQ(ServeWebAsset("GET", "/", etag, "").status, 304);
  EXPECT_EQ(ServeWebAsset("GET", "/", "W/" + etag, "").status, 304);
  EXPECT_EQ(ServeWebAsset("GET", "/", "\"other\", " + etag, "").status, 304);
  EXPECT_EQ(ServeWebAsset("GET", "/", "*", "").status, 304);
  const ApiResponse stale = ServeWebAsset("GET", "/", "\"0123\"", "");
  EXPECT_EQ(stale.status, 200);
  EXPECT_EQ(stale.body, page->data);
  EXPECT_TRUE(ServeWebAsset("GET", "/", etag, "").body.empty());
}

TEST(WebAssets, GzipWhenAccepted) {
  const EmbeddedAsset* page = Page();
  if (page == nullptr) GTEST_SKIP() << "tidegated built without the dashboard";
  const ApiResponse gz = ServeWebAsset("GET", "/", "", "br, gzip;q=0.5");
  EXPECT_EQ(Header(gz, "Content-Encoding"), "gzip");
  EXPECT_EQ(gz.body, page->gzip);
  EXPECT_EQ(Header(gz, "Vary"), "Accept-Encoding");
  EXPECT_EQ(Header(ServeWebAsset("GET", "/", "", "*"), "Content-Encoding"), "gzip");
  const ApiResponse refused = ServeWebAsset("GET", "/", "", "gzip;q=0");
  EXPECT_EQ(Header(refused, "Content-Encoding"), "");
  EXPECT_EQ(refused.body, page->data);
  EXPECT_EQ(ServeWebAsset("GET", "/", "", "deflate, br").body, page->data);
}

TEST(WebAssets, HashedAssetsAreImmutable) {
  for (const EmbeddedAsset& a : EmbeddedAssets()) {
    if (a.path == "/index.html") continue;
    const ApiResponse r = ServeWebAsset("GET", std::string(a.path) + "?v=1", "", "");
    EXPECT_EQ(r.status, 200) << a.path;
    EXPECT_EQ(r.content_type, a.content_type);
    EXPECT_EQ(Header(r, "Cache-Control"), "public, max-age=31536000, immutable");
    EXPECT_EQ(r.body, a.data);
  }
}

TEST(WebAssets, UnknownAssetAndWrongMethod) {
  const ApiResponse missing = ServeWebAsset("GET", "/assets/nope.js", "", "");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("NOT_FOUND"));
  const ApiResponse post = ServeWebAsset("POST", "/", "", "");
  EXPECT_EQ(post.status, 405);
  EXPECT_THAT(post.body, HasSubstr("POST /: method not allowed (use GET)"));
  EXPECT_THAT(post.headers, Contains(Pair("Allow", "GET")));
}

}  // namespace
}  // namespace tidegate::server::web
