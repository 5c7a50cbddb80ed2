// A tiny blocking HTTP/1.1 server on a free loopback port, for tests: the Prometheus exporter the
// integration test serves, and slow / silent servers for timeout tests. One connection at a time,
// `Connection: close` on every response. Not for production.
//
// Thread-safety: the handler runs on the server's thread; Stop() (or the destructor) joins it.
#ifndef TIDEGATE_TEST_HISTORY_HTTP_TEST_SERVER_H_
#define TIDEGATE_TEST_HISTORY_HTTP_TEST_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace tidegate::testing {

struct TestHttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain";
};

class TestHttpServer {
 public:
  // (method, target, body) -> response.
  using Handler =
      std::function<TestHttpResponse(const std::string&, const std::string&, const std::string&)>;

  // `silent`: accept connections, read the request, never answer (a hung server).
  explicit TestHttpServer(Handler handler, bool silent = false)
      : handler_(std::move(handler)), silent_(silent) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_, 16) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TestHttpServer() { Stop(); }

  bool ok() const { return fd_ >= 0; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_.load(); }

  void Stop() {
    if (stop_.exchange(true)) return;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  void Loop() {
    while (!stop_.load()) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      Serve(conn);
      ::close(conn);
    }
  }

  // Reads one request (headers + Content-Length body), answers it.
  void Serve(int conn) {
    std::string data;
    char buf[4096];
    size_t header_end = std::string::npos;
    size_t content_length = 0;
    while (!stop_.load()) {
      pollfd p{conn, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(conn, buf, sizeof(buf), 0);
      if (n <= 0) return;
      data.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          std::string lower = data.substr(0, header_end);
          for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          const size_t cl = lower.find("content-length:");
          if (cl != std::string::npos) content_length = std::stoul(lower.substr(cl + 15));
        }
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length) break;
    }
    if (stop_.load() || header_end == std::string::npos) return;
    ++requests_;
    if (silent_) {
      // Hold the connection open without answering until the client gives up or we stop.
      while (!stop_.load()) {
        pollfd p{conn, POLLIN, 0};
        if (::poll(&p, 1, 50) > 0 && ::recv(conn, buf, sizeof(buf), 0) <= 0) return;
      }
      return;
    }
    const size_t sp1 = data.find(' ');
    const size_t sp2 = data.find(' ', sp1 + 1);
    const std::string method = data.substr(0, sp1);
    const std::string target = data.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string body = data.substr(header_end + 4, content_length);
    const TestHttpResponse r = handler_(method, target, body);
    const std::string out = "HTTP/1.1 " + std::to_string(r.status) +
                            " X\r\nContent-Type: " + r.content_type +
                            "\r\nContent-Length: " + std::to_string(r.body.size()) +
                            "\r\nConnection: close\r\n\r\n" + r.body;
    size_t sent = 0;
    while (sent < out.size()) {
      const ssize_t n = ::send(conn, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  Handler handler_;
  const bool silent_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace tidegate::testing

#endif  // TIDEGATE_TEST_HISTORY_HTTP_TEST_SERVER_H_
