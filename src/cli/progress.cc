#include "cli/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

namespace tidegate::cli {

ProgressBar::ProgressBar(std::string label, size_t total, std::FILE* stream)
    : ProgressBar(std::move(label), total, stream, stream != nullptr && isatty(fileno(stream))) {}

ProgressBar::ProgressBar(std::string label, size_t total, std::FILE* stream, bool enabled)
    : label_(std::move(label)), total_(total), stream_(stream), enabled_(enabled && stream) {}

ProgressBar::~ProgressBar() { Finish(); }

std::string ProgressBar::Render(size_t done) const {
  done = std::min(done, total_);
  const double frac = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  const int filled = static_cast<int>(frac * kWidth);
  return fmt::format("{} [{}{}] {:>{}}/{} {:3}%", label_, std::string(filled, '#'),
                     std::string(kWidth - filled, '.'), done, std::to_string(total_).size(), total_,
                     static_cast<int>(frac * 100));
}

void ProgressBar::Update(size_t done) {
  if (!enabled_) return;
  const int percent = total_ ? static_cast<int>(100.0 * std::min(done, total_) / total_) : 100;
  if (percent == last_percent_) return;
  last_percent_ = percent;
  fmt::print(stream_, "\r{}", Render(done));
  std::fflush(stream_);
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (drawn_) {
    fmt::print(stream_, "\n");
    std::fflush(stream_);
    drawn_ = false;
  }
}

}  // namespace tidegate::cli
