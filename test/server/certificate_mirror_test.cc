// CertificateMirror: valid pairs are copied into the private directory, bad ones are refused
// (and counted once) while the installed copies stay as they were.
#include "tidegate/server/certificate_mirror.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tidegate::server {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CertificateMirrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("certificate_mirror_test_{}", ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const char* name : {"one", "two"}) {
      const std::string cmd = fmt::format(
          "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tidegate-{0} -keyout "
          "'{1}/{0}.key' -out '{1}/{0}.crt' >>'{1}/openssl.txt' 2>&1",
          name, dir_.string());
      ASSERT_EQ(std::system(cmd.c_str()), 0) << Slurp(dir_ / "openssl.txt");
    }
    Install("one", "one");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Install(const std::string& cert, const std::string& key) {
    fs::copy_file(dir_ / (cert + ".crt"), dir_ / "server.crt",
                  fs::copy_options::overwrite_existing);
    fs::copy_file(dir_ / (key + ".key"), dir_ / "server.key", fs::copy_options::overwrite_existing);
  }

  TlsFiles Source() const {
    TlsFiles f;
    f.cert_file = (dir_ / "server.crt").string();
    f.key_file = (dir_ / "server.key").string();
    return f;
  }

  fs::path dir_;
};

TEST_F(CertificateMirrorTest, InstallsValidPairsAndKeepsTheLastOneOnBadPairs) {
  auto mirror = CertificateMirror::Create((dir_ / "mirror").string(), Source(), "tls.grpc");
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  CertificateMirror& m = **mirror;
  EXPECT_EQ(Slurp(m.cert_file()), Slurp(dir_ / "one.crt"));
  EXPECT_EQ(Slurp(m.key_file()), Slurp(dir_ / "one.key"));
  EXPECT_EQ(m.client_ca_file(), "");
  EXPECT_EQ(fs::status(dir_ / "mirror").permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(m.installed(), 1u);

  // Unchanged files: nothing to do.
  ASSERT_TRUE(m.Update(Source()).ok());
  EXPECT_EQ(m.installed(), 1u);

  // A certificate with another certificate's key: refused, the installed copies stay.
  Install("two", "one");
  absl::Status s = m.Update(Source());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("tls.grpc.key_file: '"));
  EXPECT_THAT(s.message(), HasSubstr("is not the private key of the certificate in"));
  EXPECT_EQ(Slurp(m.cert_file()), Slurp(dir_ / "one.crt"));
  EXPECT_EQ(Slurp(m.key_file()), Slurp(dir_ / "one.key"));
  EXPECT_EQ(m.rejected(), 1u);
  // Re-read by another reload: still refused, counted once.
  EXPECT_FALSE(m.Update(Source()).ok());
  EXPECT_EQ(m.rejected(), 1u);

  // Garbage instead of a certificate; then a missing key file.
  std::ofstream(dir_ / "server.crt") << "not a certificate\n";
  s = m.Update(Source());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("tls.grpc.cert_file: '"));
  EXPECT_THAT(s.message(), HasSubstr("holds no PEM certificate"));
  Install("two", "two");
  fs::remove(dir_ / "server.key");
  s = m.Update(Source());
  EXPECT_THAT(s.message(), HasSubstr("tls.grpc.key_file: '"));
  EXPECT_THAT(s.message(), HasSubstr("does not exist"));
  EXPECT_EQ(m.rejected(), 3u);
  EXPECT_EQ(Slurp(m.cert_file()), Slurp(dir_ / "one.crt"));

  // A valid new pair: installed; the generation before it is kept, older ones removed.
  Install("two", "two");
  ASSERT_TRUE(m.Update(Source()).ok());
  EXPECT_EQ(Slurp(m.cert_file()), Slurp(dir_ / "two.crt"));
  EXPECT_EQ(Slurp(m.key_file()), Slurp(dir_ / "two.key"));
  EXPECT_EQ(m.installed(), 2u);
  Install("one", "one");
  ASSERT_TRUE(m.Update(Source()).ok());
  EXPECT_EQ(Slurp(m.cert_file()), Slurp(dir_ / "one.crt"));
  int generations = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "mirror")) {
    generations += e.path().filename().string().starts_with("gen-");
  }
  EXPECT_EQ(generations, 2);

  EXPECT_THAT(m.RenderMetrics(),
              HasSubstr("tidegate_tls_reloads_total{listener=\"grpc\",result=\"installed\"} 3\n"));
  EXPECT_THAT(m.RenderMetrics(),
              HasSubstr("tidegate_tls_reloads_total{listener=\"grpc\",result=\"rejected\"} 3\n"));
}

TEST_F(CertificateMirrorTest, RefusesABadPairAtStartAndCopiesAClientCa) {
  Install("one", "two");
  auto bad = CertificateMirror::Create((dir_ / "mirror").string(), Source(), "tls.grpc");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);

  Install("one", "one");
  TlsFiles source = Source();
  source.client_ca_file = (dir_ / "two.crt").string();
  auto mirror = CertificateMirror::Create((dir_ / "mirror").string(), source, "tls.grpc");
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  EXPECT_EQ(Slurp((*mirror)->client_ca_file()), Slurp(dir_ / "two.crt"));

  source.client_ca_file = (dir_ / "one.key").string();  // Not a certificate.
  absl::Status s = (*mirror)->Update(source);
  EXPECT_THAT(s.message(), HasSubstr("tls.grpc.client_ca_file: '"));
  EXPECT_EQ(Slurp((*mirror)->client_ca_file()), Slurp(dir_ / "two.crt"));
}

}  // namespace
}  // namespace tidegate::server
