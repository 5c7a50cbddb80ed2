#include "server/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "fmt/format.h"

namespace tidegate::test {
namespace {

// Forks and execs `args` with stderr appended to `log`. The test process may have threads (gRPC,
// libcurl), so the child calls only async-signal-safe functions: everything is prepared before
// fork().
pid_t Spawn(const std::vector<std::string>& args, const std::filesystem::path& log) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string log_path = log.string();
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "exit code N" / "killed by signal N" for a waitpid() status.
absl::StatusOr<int> ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    return absl::InternalError(fmt::format("killed by signal {}", WTERMSIG(status)));
  }
  return absl::InternalError(fmt::format("wait status {}", status));
}

}  // namespace

int RunTool(const std::vector<std::string>& args, const std::filesystem::path& log) {
  if (args.empty()) return -1;
  const pid_t pid = Spawn(args, log);
  if (pid < 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  absl::StatusOr<int> code = ExitCode(status);
  return code.ok() ? *code : -1;
}

DaemonProcess::DaemonProcess(std::filesystem::path log) : log_(std::move(log)) {}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

absl::Status DaemonProcess::Start(const std::vector<std::string>& args) {
  if (pid_ > 0) return absl::FailedPreconditionError(fmt::format("pid {} still runs", pid_));
  if (args.empty()) return absl::InvalidArgumentError("no command");
  std::error_code ec;
  const auto size = std::filesystem::file_size(log_, ec);
  log_offset_ = ec ? 0 : static_cast<size_t>(size);
  pid_ = Spawn(args, log_);
  if (pid_ < 0) {
    pid_ = -1;
    return absl::InternalError(fmt::format("fork: {}", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DaemonProcess::WaitForLog(std::string_view prefix,
                                                      std::string_view suffix,
                                                      std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    const std::string all = Log();
    const std::string_view log = std::string_view(all).substr(std::min(log_offset_, all.size()));
    for (size_t at = log.find(prefix); at != std::string_view::npos;
         at = log.find(prefix, at + 1)) {
      const size_t from = at + prefix.size();
      if (suffix.empty()) return "";
      const size_t to = log.find(suffix, from);
      if (to != std::string_view::npos && log.find('\n', from) >= to) {
        return std::string(log.substr(from, to - from));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  return absl::DeadlineExceededError(fmt::format("no '{}...{}' in the log after {} s:\n{}", prefix,
                                                 suffix, timeout.count(), Log()));
}

absl::Status DaemonProcess::Signal(int signal) {
  if (pid_ <= 0) return absl::FailedPreconditionError("no process running");
  if (kill(pid_, signal) != 0) {
    return absl::InternalError(fmt::format("kill({}, {}): {}", pid_, signal, std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> DaemonProcess::Wait() {
  if (pid_ <= 0) return absl::FailedPreconditionError("no process running");
  int status = 0;
  const pid_t got = waitpid(pid_, &status, 0);
  pid_ = -1;
  if (got < 0) return absl::InternalError(fmt::format("waitpid: {}", std::strerror(errno)));
  absl::StatusOr<int> code = ExitCode(status);
  if (!code.ok())
    return absl::InternalError(
        fmt::format("{}; log:\n{}", std::string(code.status().message()), Log()));
  return code;
}

absl::StatusOr<int> DaemonProcess::Stop() {
  TIDEGATE_RETURN_IF_ERROR(Signal(SIGTERM));
  return Wait();
}

std::string DaemonProcess::Log() const { return ReadFile(log_); }

absl::StatusOr<std::string> StartTidegated(DaemonProcess& daemon, const std::string& binary,
                                           const std::filesystem::path& config,
                                           const std::filesystem::path& data_dir) {
  TIDEGATE_RETURN_IF_ERROR(
      daemon.Start({binary, "--config", config.string(), "--data-dir", data_dir.string(),
                    "--http-listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"}));
  // "tidegated: HTTP listening on http://127.0.0.1:PORT/"
  TIDEGATE_ASSIGN_OR_RETURN(std::string url, daemon.WaitForLog("HTTP listening on ", "\n"));
  if (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace tidegate::test
