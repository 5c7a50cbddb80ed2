#include "tidegate/forecast/m4.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace tidegate::forecast {
namespace {

std::string_view Unquote(std::string_view cell) {
  while (!cell.empty() && (cell.back() == '\r' || cell.back() == ' ')) cell.remove_suffix(1);
  while (!cell.empty() && cell.front() == ' ') cell.remove_prefix(1);
  if (cell.size() >= 2 && cell.front() == '"' && cell.back() == '"') {
    cell = cell.substr(1, cell.size() - 2);
  }
  return cell;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("cannot open '{}'", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::vector<M4Row>> ParseM4Csv(std::string_view text, std::string_view file_name) {
  std::vector<M4Row> rows;
  size_t pos = 0;
  int line_no = 0;
  bool header_seen = false;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (!header_seen) {
      header_seen = true;
      continue;
    }
    M4Row row;
    size_t start = 0;
    int column = 0;
    bool ended = false;  // An empty cell was seen: everything after must be empty.
    while (start <= line.size()) {
      size_t comma = line.find(',', start);
      if (comma == std::string_view::npos) comma = line.size();
      std::string_view cell = Unquote(line.substr(start, comma - start));
      ++column;
      if (column == 1) {
        if (cell.empty()) {
          return absl::InvalidArgumentError(
              fmt::format("{}:{}: column 1: empty series id", file_name, line_no));
        }
        row.id = std::string(cell);
      } else if (cell.empty()) {
        ended = true;
      } else {
        if (ended) {
          return absl::InvalidArgumentError(
              fmt::format("{}:{}: column {}: value after an empty cell (series {})", file_name,
                          line_no, column, row.id));
        }
        double v = 0;
        auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
        if (ec != std::errc() || ptr != cell.data() + cell.size() || !std::isfinite(v)) {
          return absl::InvalidArgumentError(
              fmt::format("{}:{}: column {}: '{}' is not a finite number (series {})", file_name,
                          line_no, column, cell, row.id));
        }
        row.values.push_back(v);
      }
      start = comma + 1;
    }
    rows.push_back(std::move(row));
  }
  if (!header_seen) {
    return absl::InvalidArgumentError(fmt::format("{}: empty file (no header row)", file_name));
  }
  return rows;
}

absl::StatusOr<std::vector<M4Series>> LoadM4(const std::string& dir,
                                             std::string_view frequency_name) {
  const std::string train_path = fmt::format("{}/Train/{}-train.csv", dir, frequency_name);
  const std::string test_path = fmt::format("{}/Test/{}-test.csv", dir, frequency_name);
  auto train_text = ReadFile(train_path);
  if (!train_text.ok()) return train_text.status();
  auto test_text = ReadFile(test_path);
  if (!test_text.ok()) return test_text.status();
  auto train = ParseM4Csv(*train_text, train_path);
  if (!train.ok()) return train.status();
  auto test = ParseM4Csv(*test_text, test_path);
  if (!test.ok()) return test.status();
  std::unordered_map<std::string, size_t> test_index;
  for (size_t i = 0; i < test->size(); ++i) test_index[(*test)[i].id] = i;
  std::vector<M4Series> out;
  out.reserve(train->size());
  for (auto& row : *train) {
    auto it = test_index.find(row.id);
    if (it == test_index.end()) {
      return absl::InvalidArgumentError(
          fmt::format("series {} of {} has no row in {}", row.id, train_path, test_path));
    }
    out.push_back(M4Series{row.id, std::move(row.values), std::move((*test)[it->second].values)});
  }
  return out;
}

absl::StatusOr<std::vector<M4Series>> M4ValidationSplit(std::vector<M4Series> data, int h) {
  if (h < 1) return absl::InvalidArgumentError(fmt::format("validation horizon {} < 1", h));
  const auto n = static_cast<size_t>(h);
  for (M4Series& s : data) {
    if (s.train.size() < 2 * n) {
      return absl::FailedPreconditionError(
          fmt::format("series {}: {} Train values, a validation split of {} needs at least {}",
                      s.id, s.train.size(), h, 2 * n));
    }
    s.test.assign(s.train.end() - static_cast<std::ptrdiff_t>(n), s.train.end());
    s.train.resize(s.train.size() - n);
  }
  return data;
}

}  // namespace tidegate::forecast
