// End-to-end test of certificate rotation in tidegated: certificates made with the openssl command
// line, the daemon serving HTTPS and gRPC over TLS; the files are replaced and a new connection
// sees the new certificate's serial and subject — after SIGHUP for HTTP, and for gRPC once the
// daemon has installed the new pair where gRPC watches it — and a key that does not match its
// certificate is refused with a clear error while HTTP and gRPC keep the previous certificate.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tidegate::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

int RunTool(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* f = freopen(log.c_str(), "a", stderr);
    FILE* g = freopen(log.c_str(), "a", stdout);
    (void)f;
    (void)g;
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// "serial CN" of the certificate a TLS server on 127.0.0.1:port presents ("" if no handshake).
std::string PeerCertificate(int port, bool h2) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (h2) {
      static const unsigned char kAlpn[] = {2, 'h', '2'};
      SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof kAlpn);
    }
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      if (X509* cert = SSL_get1_peer_certificate(ssl)) {
        const long serial = ASN1_INTEGER_get(X509_get_serialNumber(cert));
        char cn[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        out = fmt::format("{} {}", serial, cn);
        X509_free(cert);
      }
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  ::close(fd);
  return out;
}

class TidegatedTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);  // A server closing first must not kill the test's TLS client.
    dir_ = fs::temp_directory_path() / fmt::format("tidegated_tls_test_{}", ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "tls");
    tool_log_ = (dir_ / "openssl.txt").string();
    log_ = (dir_ / "log.txt").string();
    // Two certificates with their keys, told apart by serial and subject.
    for (const auto& [name, serial] : {std::pair<std::string, int>{"one", 1001}, {"two", 2002}}) {
      ASSERT_EQ(RunTool({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                         "-subj", "/CN=tidegate-" + name, "-set_serial", std::to_string(serial),
                         "-keyout", (dir_ / (name + ".key")).string(), "-out",
                         (dir_ / (name + ".crt")).string()},
                        tool_log_),
                0)
          << Slurp(tool_log_);
    }
    Install("one", "one");
    std::ofstream(dir_ / "config.yaml")
        << "domain: shop\n"
           "tls:\n"
           "  http: {cert_file: tls/server.crt, key_file: tls/server.key}\n"
           "  grpc: {cert_file: tls/server.crt, key_file: tls/server.key}\n";
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // Puts certificate `cert` and key `key` in place, each by a rename (as certificate managers do).
  void Install(const std::string& cert, const std::string& key) {
    for (const auto& [from, to] : {std::pair{dir_ / (key + ".key"), dir_ / "tls/server.key"},
                                   std::pair{dir_ / (cert + ".crt"), dir_ / "tls/server.crt"}}) {
      fs::copy_file(from, to.string() + ".new", fs::copy_options::overwrite_existing);
      fs::rename(to.string() + ".new", to);
    }
    // The daemon watches modification times; make sure this change is a new one.
    const auto t = fs::file_time_type::clock::now() + std::chrono::seconds(++installs_);
    fs::last_write_time(dir_ / "tls/server.crt", t);
    fs::last_write_time(dir_ / "tls/server.key", t);
  }

  // Waits (up to 60 s: the daemon runs on the real clock) for `count` occurrences of `text`.
  void WaitForLog(const std::string& text, int count = 1) {
    for (int i = 0; i < 600; ++i) {
      const std::string log = Slurp(log_);
      int n = 0;
      for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
      if (n >= count) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "no '" << text << "' (x" << count << ") in the log:\n" << Slurp(log_);
  }

  // Text between `prefix` and `suffix` on the line of the first `prefix`.
  std::string Between(const std::string& prefix, const std::string& suffix) {
    WaitForLog(prefix);
    const std::string log = Slurp(log_);
    const size_t from = log.find(prefix) + prefix.size();
    return log.substr(from, log.find(suffix, from) - from);
  }

  // Polls (up to 20 s) until the gRPC port presents `want`; returns what it presented last.
  std::string WaitForGrpcCertificate(const std::string& want) {
    std::string got;
    for (int i = 0; i < 200 && got != want; ++i) {
      got = PeerCertificate(grpc_port_, /*h2=*/true);
      if (got != want) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return got;
  }

  fs::path dir_;
  std::string tool_log_, log_;
  int installs_ = 0;
  pid_t pid_ = -1;
  int http_port_ = 0, grpc_port_ = 0;
};

TEST_F(TidegatedTlsTest, RotatedCertificatesServeNewConnectionsWithoutRestart) {
  pid_ = fork();
  ASSERT_GE(pid_, 0);
  if (pid_ == 0) {
    FILE* f = freopen(log_.c_str(), "w", stderr);
    (void)f;
    const std::string config = (dir_ / "config.yaml").string();
    const std::string data = (dir_ / "data").string();
    execl(TIDEGATED_PATH, "tidegated", "--config", config.c_str(), "--data-dir", data.c_str(),
          "--http-listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", nullptr);
    _exit(127);
  }
  http_port_ = std::stoi(Between("HTTP listening on https://127.0.0.1:", "/"));
#ifdef TIDEGATE_WITH_GRPC
  grpc_port_ = std::stoi(Between("listening on 127.0.0.1:", "\n"));
#endif
  EXPECT_EQ(PeerCertificate(http_port_, false), "1001 tidegate-one");
  if (grpc_port_ != 0) {
    EXPECT_EQ(PeerCertificate(grpc_port_, true), "1001 tidegate-one");
  }

  // Rotation + SIGHUP: new connections get certificate two.
  Install("two", "two");
  ASSERT_EQ(kill(pid_, SIGHUP), 0);
  WaitForLog("SIGHUP: config version");
  EXPECT_THAT(Slurp(log_), Not(HasSubstr("NOT applied")));
  EXPECT_EQ(PeerCertificate(http_port_, false), "2002 tidegate-two");
  if (grpc_port_ != 0) {
    EXPECT_EQ(WaitForGrpcCertificate("2002 tidegate-two"), "2002 tidegate-two");
  }

  // A certificate with a key that is not its own: refused, certificate two stays.
  Install("one", "two");
  ASSERT_EQ(kill(pid_, SIGHUP), 0);
  WaitForLog("config NOT applied");
  const std::string log = Slurp(log_);
  EXPECT_THAT(log, HasSubstr("tls.http.key_file: '"));
  EXPECT_THAT(log, HasSubstr("is not the private key of the certificate in"));
  EXPECT_EQ(PeerCertificate(http_port_, false), "2002 tidegate-two");
  if (grpc_port_ != 0) {
    // gRPC serves the daemon's validated copies: the bad pair never reaches them, and after
    // gRPC's own refresh period (1 s) has passed several times it still handshakes with two.
    WaitForLog("tls.grpc: new certificate not installed, the previous one keeps serving");
    for (int i = 0; i < 4; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(750));
      EXPECT_EQ(PeerCertificate(grpc_port_, true), "2002 tidegate-two") << "after " << i;
    }
    EXPECT_EQ(Slurp((dir_ / "data/tls/grpc/current/cert.pem").string()),
              Slurp((dir_ / "two.crt").string()));
  }

  // Fixed: the next reload applies it.
  Install("one", "one");
  ASSERT_EQ(kill(pid_, SIGHUP), 0);
  WaitForLog("SIGHUP: config version", 2);
  EXPECT_EQ(PeerCertificate(http_port_, false), "1001 tidegate-one");
  if (grpc_port_ != 0) {
    EXPECT_EQ(WaitForGrpcCertificate("1001 tidegate-one"), "1001 tidegate-one");
  }

  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << Slurp(log_);
}

}  // namespace
}  // namespace tidegate::server
