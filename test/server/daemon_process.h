// test/server/daemon_process.h — a child process of an end-to-end test (tidegated, or a tidegate
// command) whose stderr goes to a log file the test reads.
//
// The end-to-end tests start the real binaries on free loopback ports (`127.0.0.1:0`) and learn
// the ports from the log lines the daemon writes once it listens. The daemon is another process on
// the real clock, so waiting for a log line polls in real time (every 100 ms, up to a timeout):
// that is the one place these tests wait.
//
// Thread-safety: a DaemonProcess is driven by one test thread.
#ifndef TIDEGATE_TEST_SERVER_DAEMON_PROCESS_H_
#define TIDEGATE_TEST_SERVER_DAEMON_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tidegate/common/status.h"

namespace tidegate::test {

// Runs `args` (args[0] is the path of the binary) to completion with its stderr appended to
// `log`. Returns its exit code, or -1 when it did not exit normally (a signal) or could not start.
int RunTool(const std::vector<std::string>& args, const std::filesystem::path& log);

// One child process at a time; the destructor kills (SIGKILL) and reaps one still running.
class DaemonProcess {
 public:
  // `log` receives the child's stderr, appended: a restart keeps the earlier runs' lines.
  explicit DaemonProcess(std::filesystem::path log);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts `args` (args[0] is the path of the binary). FailedPrecondition if one is running.
  absl::Status Start(const std::vector<std::string>& args);

  // Polls the log written since the last Start() until a line holds `prefix` followed by
  // `suffix`, and returns the text between them (empty `suffix`: returns ""). DeadlineExceeded,
  // quoting the log, after `timeout` (sanitizer builds start slowly).
  absl::StatusOr<std::string> WaitForLog(std::string_view prefix, std::string_view suffix = "",
                                         std::chrono::seconds timeout = std::chrono::seconds(60));

  // Sends `signal` to the running child. FailedPrecondition if none is running.
  absl::Status Signal(int signal);

  // Reaps the child (after it exits on its own or after Signal()); returns its exit code.
  // Internal, quoting the log, when a signal ended it.
  absl::StatusOr<int> Wait();

  // SIGTERM, then Wait(): the daemon's graceful shutdown.
  absl::StatusOr<int> Stop();

  // The whole log file (every run).
  std::string Log() const;

  bool running() const { return pid_ > 0; }

 private:
  std::filesystem::path log_;
  size_t log_offset_ = 0;  // The log's size at the last Start(): WaitForLog() reads after it.
  pid_t pid_ = -1;
};

// Starts `tidegated --config <config> --data-dir <data_dir> --http-listen 127.0.0.1:0
// --grpc-listen 127.0.0.1:0` and waits until it logs its HTTP address; returns the base URL
// without the trailing slash (`http://127.0.0.1:PORT`, or `https://…` with tls.http).
absl::StatusOr<std::string> StartTidegated(DaemonProcess& daemon, const std::string& binary,
                                           const std::filesystem::path& config,
                                           const std::filesystem::path& data_dir);

}  // namespace tidegate::test

#endif  // TIDEGATE_TEST_SERVER_DAEMON_PROCESS_H_
