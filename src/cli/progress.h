// cli/progress.h — a one-line progress bar on stderr, drawn only when stderr is a terminal.
//
// Redirected output (a log file, CI) stays clean: when the stream is not a TTY, nothing is drawn.
// The bar redraws only when the integer percentage changes, so a loop may call Update() on every
// item. It does not read a clock (only src/common/real_clock.cc does).
//
// Thread-safety: not synchronised; drive it from one thread.
#ifndef TIDEGATE_CLI_PROGRESS_H_
#define TIDEGATE_CLI_PROGRESS_H_

#include <cstddef>
#include <cstdio>
#include <string>

namespace tidegate::cli {

class ProgressBar {
 public:
  // Draws on `stream` when `enabled`; by default, enabled iff `stream` is a terminal.
  ProgressBar(std::string label, size_t total, std::FILE* stream = stderr);
  ProgressBar(std::string label, size_t total, std::FILE* stream, bool enabled);
  ~ProgressBar();  // Finishes the line if anything was drawn.

  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void Update(size_t done);
  void Finish();

  // The text drawn for `done` items (without the carriage return), e.g.
  // "backtest [##########..........]  207/414  50%".
  std::string Render(size_t done) const;
  bool enabled() const { return enabled_; }

 private:
  static constexpr int kWidth = 30;
  std::string label_;
  size_t total_;
  std::FILE* stream_;
  bool enabled_;
  int last_percent_ = -1;
  bool drawn_ = false;
};

}  // namespace tidegate::cli

#endif  // TIDEGATE_CLI_PROGRESS_H_
