#include "cli/csv_series.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

namespace tidegate::cli {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

std::vector<std::string_view> SplitCsv(std::string_view line) {
  std::vector<std::string_view> cells;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) {
      cells.push_back(Trim(line.substr(start)));
      return cells;
    }
    cells.push_back(Trim(line.substr(start, comma - start)));
    start = comma + 1;
  }
}

bool ParseInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsMissing(std::string_view v) {
  return v.empty() || v == "NA" || v == "NaN" || v == "nan" || v == "null" || v == "NULL";
}

}  // namespace

std::optional<WallTime> ParseTimestamp(std::string_view s) {
  s = Trim(s);
  if (s.empty()) return std::nullopt;
  // Unix seconds.
  if (s.find('-', 1) == std::string_view::npos && s.find(':') == std::string_view::npos) {
    double secs = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), secs);
    if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(secs) ||
        std::fabs(secs) > 9e9) {
      return std::nullopt;
    }
    return WallTime(Duration(static_cast<int64_t>(std::llround(secs * 1e9))));
  }
  // YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|±HH:MM]
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-' || !ParseInt(s.substr(0, 4), &year) ||
      !ParseInt(s.substr(5, 2), &month) || !ParseInt(s.substr(8, 2), &day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  size_t pos = 10;
  int64_t frac_ns = 0;
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == ' ')) {
    if (s.size() < pos + 6 || s[pos + 3] != ':' || !ParseInt(s.substr(pos + 1, 2), &hour) ||
        !ParseInt(s.substr(pos + 4, 2), &minute)) {
      return std::nullopt;
    }
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (s.size() < pos + 3 || !ParseInt(s.substr(pos + 1, 2), &second)) return std::nullopt;
      pos += 3;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int64_t scale = 100'000'000;
        size_t digits = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (digits < 9) frac_ns += (s[pos] - '0') * scale;
          scale /= 10;
          ++digits;
          ++pos;
        }
        if (digits == 0) return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
  }
  if (pos < s.size()) {
    if (s[pos] == 'Z' && pos + 1 == s.size()) {
      pos = s.size();
    } else if ((s[pos] == '+' || s[pos] == '-') && s.size() == pos + 6 && s[pos + 3] == ':') {
      int oh, om;
      if (!ParseInt(s.substr(pos + 1, 2), &oh) || !ParseInt(s.substr(pos + 4, 2), &om)) {
        return std::nullopt;
      }
      offset_s = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    } else {
      return std::nullopt;
    }
  }
  const int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  return WallTime(Duration(secs * 1'000'000'000 + frac_ns));
}

std::string FormatTimestamp(WallTime t) {
  const int64_t ns = t.time_since_epoch().count();
  int64_t secs = ns >= 0 ? ns / 1'000'000'000 : -((-ns + 999'999'999) / 1'000'000'000);
  const int64_t frac = ns - secs * 1'000'000'000;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  // civil_from_days (H. Hinnant).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, m, d, rem / 3600,
                                rem / 60 % 60, rem % 60);
  if (frac != 0) {
    std::string f = fmt::format("{:09}", frac);
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + "Z";
}

absl::StatusOr<forecast::Series> ParseSeriesCsv(std::string_view text, std::string_view file_name,
                                                const CsvSeriesOptions& options) {
  std::vector<std::pair<WallTime, double>> rows;
  std::vector<int> line_of_row;
  size_t pos = 0;
  int line_no = 0;
  int ts_col = -1, val_col = -1;
  size_t ncols = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (Trim(line).empty()) continue;
    std::vector<std::string_view> cells = SplitCsv(line);
    if (ts_col < 0) {
      ncols = cells.size();
      for (size_t i = 0; i < cells.size(); ++i) {
        if (cells[i] == options.timestamp_column) ts_col = static_cast<int>(i);
        if (cells[i] == options.value_column) val_col = static_cast<int>(i);
      }
      if (ts_col < 0 || val_col < 0) {
        return absl::InvalidArgumentError(
            fmt::format("{}:{}: header has no '{}' column (header: {})", file_name, line_no,
                        ts_col < 0 ? options.timestamp_column : options.value_column, Trim(line)));
      }
      continue;
    }
    if (cells.size() <= static_cast<size_t>(std::max(ts_col, val_col))) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: expected {} columns, found {}",
                                                    file_name, line_no, ncols, cells.size()));
    }
    std::optional<WallTime> t = ParseTimestamp(cells[ts_col]);
    if (!t) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: column '{}': '{}' is not a timestamp",
                                                    file_name, line_no, options.timestamp_column,
                                                    cells[ts_col]));
    }
    const std::string_view v = cells[val_col];
    double value = std::numeric_limits<double>::quiet_NaN();
    if (!IsMissing(v)) {
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
      if (ec != std::errc() || ptr != v.data() + v.size() || !std::isfinite(value)) {
        return absl::InvalidArgumentError(
            fmt::format("{}:{}: column '{}': '{}' is not a finite number", file_name, line_no,
                        options.value_column, v));
      }
    }
    if (!rows.empty()) {
      const WallTime prev = rows.back().first;
      if (*t == prev) {
        return absl::InvalidArgumentError(
            fmt::format("{}:{}: duplicate timestamp {} (also on line {})", file_name, line_no,
                        cells[ts_col], line_of_row.back()));
      }
      if (*t < prev) {
        return absl::InvalidArgumentError(fmt::format(
            "{}:{}: timestamp {} is earlier than the previous row's (line {}): rows must be "
            "sorted by time",
            file_name, line_no, cells[ts_col], line_of_row.back()));
      }
    }
    rows.emplace_back(*t, value);
    line_of_row.push_back(line_no);
  }
  if (ts_col < 0) return absl::InvalidArgumentError(fmt::format("{}: empty file", file_name));
  if (rows.size() < 2) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: need at least 2 rows to infer the step, found {}", file_name, rows.size()));
  }
  Duration step = Duration::max();
  for (size_t i = 1; i < rows.size(); ++i) step = std::min(step, rows[i].first - rows[i - 1].first);
  forecast::Series series;
  series.start = rows.front().first;
  series.step = step;
  series.values.push_back(rows.front().second);
  for (size_t i = 1; i < rows.size(); ++i) {
    const Duration diff = rows[i].first - rows[i - 1].first;
    if (diff.count() % step.count() != 0) {
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: irregular spacing: {} s after the previous row, not a multiple of the step "
          "({} s)",
          file_name, line_of_row[i], std::chrono::duration<double>(diff).count(),
          std::chrono::duration<double>(step).count()));
    }
    const int64_t k = diff.count() / step.count();
    if (k - 1 > kMaxGapSteps) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: gap of {} steps exceeds {}", file_name,
                                                    line_of_row[i], k - 1, kMaxGapSteps));
    }
    for (int64_t j = 1; j < k; ++j)
      series.values.push_back(std::numeric_limits<double>::quiet_NaN());
    series.values.push_back(rows[i].second);
  }
  return series;
}

absl::StatusOr<forecast::Series> ReadSeriesCsv(const std::string& path,
                                               const CsvSeriesOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("cannot open '{}'", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseSeriesCsv(ss.str(), path, options);
}

}  // namespace tidegate::cli
