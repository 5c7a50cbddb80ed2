// Runs anomaly detectors over a NAB corpus and prints the three NAB profiles side by side.
//   nab_run --data ../shared/data/NAB-dev [--detectors conformal,windowed_gaussian]
//           [--scores-dir DIR --name NAME]   (score existing `tidegate detect` outputs instead)
//           [--set key=value ...]            (conformal detector options)
//           [--half a|b]                     (only files at even|odd positions, for tuning on one
//                                             half and reporting on the other)
//           [--threshold T]                  (score at T instead of the best threshold)
//           [--per-file]                     (each file's TP/FP/FN at the standard threshold)
//           [--breakdown]                    (per category: what the TPs earn, what the FPs
//                                             cost and the windows missed, standard profile)
//           [--write-scores DIR]             (each detector's scores, DIR/NAME/<file>, in the
//                                             `tidegate detect` format)
// Every detector reads each file causally, row by row, as the daemon would.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "nab_scorer.h"
#include "tidegate/anomaly/detector.h"

namespace fs = std::filesystem;
using tidegate::nab::FileResult;

namespace {

// "YYYY-MM-DD HH:MM:SS[.ffffff]" -> seconds since the epoch (UTC). NaN if malformed.
double ParseTime(const std::string& s) {
  int y, mo, d, h, mi;
  double sec;
  if (std::sscanf(s.c_str(), "%d-%d-%d %d:%d:%lf", &y, &mo, &d, &h, &mi, &sec) != 6) return NAN;
  const std::chrono::sys_days day{std::chrono::year(y) / mo / d};
  return static_cast<double>(day.time_since_epoch().count()) * 86400 + h * 3600 + mi * 60 + sec;
}

struct Series {
  std::vector<double> time_s, value, score;
};

// Reads timestamp,value[,anomaly_score]; returns false with a message naming file and line.
bool ReadCsv(const fs::path& path, Series* out, std::string* error) {
  std::ifstream in(path);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1) continue;  // Header.
    std::stringstream ss(line);
    std::string ts, val, score;
    std::getline(ss, ts, ',');
    std::getline(ss, val, ',');
    std::getline(ss, score, ',');
    const double t = ParseTime(ts);
    char* end = nullptr;
    const double v = std::strtod(val.c_str(), &end);
    if (std::isnan(t) || end == val.c_str()) {
      *error = fmt::format("{}:{}: cannot parse '{}'", path.string(), line_no, line);
      return false;
    }
    out->time_s.push_back(t);
    out->value.push_back(v);
    if (!score.empty()) out->score.push_back(std::strtod(score.c_str(), nullptr));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir, scores_dir, scores_name = "scores";
  std::string detectors = "conformal,windowed_gaussian";
  std::vector<std::string> settings;  // --set key=value, for the conformal detector.
  std::string half;                   // "", "a" or "b".
  double fixed_threshold = -1;        // < 0: choose the best per detector and profile.
  bool per_file = false;
  bool breakdown = false;
  std::string write_dir;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--per-file" || flag == "--breakdown") {
      (flag == "--per-file" ? per_file : breakdown) = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "nab_run: %s needs a value\n", flag.c_str());
      return 2;
    }
    if (flag == "--half") {
      half = argv[i + 1];
      if (half != "a" && half != "b") {
        std::fprintf(stderr, "nab_run: --half %s: expected a or b\n", half.c_str());
        return 2;
      }
    } else if (flag == "--threshold") {
      char* end = nullptr;
      fixed_threshold = std::strtod(argv[i + 1], &end);
      if (end == argv[i + 1] || *end != '\0' || !(fixed_threshold >= 0 && fixed_threshold <= 1)) {
        std::fprintf(stderr, "nab_run: --threshold %s: expected a number in [0, 1]\n", argv[i + 1]);
        return 2;
      }
    } else if (flag == "--data") {
      data_dir = argv[i + 1];
    } else if (flag == "--detectors") {
      detectors = argv[i + 1];
    } else if (flag == "--scores-dir") {
      scores_dir = argv[i + 1];
    } else if (flag == "--name") {
      scores_name = argv[i + 1];
    } else if (flag == "--write-scores") {
      write_dir = argv[i + 1];
    } else if (flag == "--set") {
      settings.push_back(argv[i + 1]);
    } else {
      std::fprintf(stderr, "nab_run: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (data_dir.empty()) {
    std::fprintf(stderr, "usage: nab_run --data NAB_DIR [--detectors a,b] [--scores-dir DIR]\n");
    return 2;
  }
  std::ifstream labels_in(fs::path(data_dir) / "labels" / "combined_windows.json");
  if (!labels_in) {
    std::fprintf(stderr, "nab_run: no labels/combined_windows.json under %s\n", data_dir.c_str());
    return 1;
  }
  const nlohmann::json labels = nlohmann::json::parse(labels_in, nullptr, false);
  if (labels.is_discarded()) {
    std::fprintf(stderr, "nab_run: labels/combined_windows.json is not valid JSON\n");
    return 1;
  }

  std::vector<std::string> names;
  if (!scores_dir.empty()) {
    names = {scores_name};
  } else {
    std::stringstream ss(detectors);
    for (std::string d; std::getline(ss, d, ',');) names.push_back(d);
  }
  std::map<std::string, std::vector<FileResult>> results;
  std::map<std::string, double> seconds;
  int position = -1;  // Files in label order (sorted by name): half a is even, b is odd.
  for (const auto& [file, windows] : labels.items()) {
    ++position;
    if ((half == "a" && position % 2 != 0) || (half == "b" && position % 2 != 1)) continue;
    Series series;
    std::string error;
    if (!ReadCsv(fs::path(data_dir) / "data" / file, &series, &error)) {
      std::fprintf(stderr, "nab_run: %s\n", error.c_str());
      return 1;
    }
    std::vector<tidegate::nab::Window> wins;
    for (const auto& w : windows) {
      wins.push_back({ParseTime(w[0].get<std::string>()), ParseTime(w[1].get<std::string>())});
    }
    for (const std::string& name : names) {
      FileResult r{file, series.time_s, {}, wins};
      if (!scores_dir.empty()) {
        Series scored;
        if (!ReadCsv(fs::path(scores_dir) / file, &scored, &error)) {
          std::fprintf(stderr, "nab_run: %s\n", error.c_str());
          return 1;
        }
        if (scored.score.size() != series.time_s.size()) {
          std::fprintf(stderr, "nab_run: %s: %zu scores for %zu rows\n", file.c_str(),
                       scored.score.size(), series.time_s.size());
          return 1;
        }
        r.score = scored.score;
      } else {
        // The file's own sampling interval (--set step_seconds=... still wins).
        auto detector = tidegate::anomaly::MakeDetector(
            name, settings, tidegate::anomaly::MeasureStepSeconds(series.time_s));
        if (!detector.ok()) {
          std::fprintf(stderr, "nab_run: %s\n", std::string(detector.status().message()).c_str());
          return 2;
        }
        const auto start = std::chrono::steady_clock::now();
        for (double v : series.value) r.score.push_back((*detector)->Observe(v).score);
        seconds[name] +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      if (!write_dir.empty()) {
        const fs::path out_path = fs::path(write_dir) / name / file;
        std::error_code ec;
        fs::create_directories(out_path.parent_path(), ec);
        std::ofstream out(out_path);
        if (ec || !out) {
          std::fprintf(stderr, "nab_run: cannot write %s\n", out_path.string().c_str());
          return 1;
        }
        out << "timestamp,value,anomaly_score\n";
        for (size_t k = 0; k < r.score.size(); ++k) {
          out << fmt::format("{},{},{}\n", series.time_s[k], series.value[k], r.score[k]);
        }
      }
      results[name].push_back(std::move(r));
    }
  }

  if (results.empty()) {
    std::fprintf(stderr, "nab_run: no detector to run\n");
    return 2;
  }
  size_t windows = 0, rows = 0;
  for (const auto& f : results.begin()->second) {
    windows += f.windows.size();
    rows += f.time_s.size();
  }
  std::printf("NAB corpus: %zu files, %zu windows, %zu rows (%s)\n", results.begin()->second.size(),
              windows, rows, data_dir.c_str());
  std::printf("%-20s %-14s %10s %10s %5s %5s %5s %10s\n", "detector", "profile", "score",
              "threshold", "TP", "FP", "FN", "time s");
  for (const std::string& name : names) {
    for (const auto& profile : tidegate::nab::StandardProfiles()) {
      const auto c = fixed_threshold >= 0
                         ? tidegate::nab::ScoreCorpus(results[name], fixed_threshold, profile)
                         : tidegate::nab::BestThreshold(results[name], profile);
      std::printf("%-20s %-14s %10.2f %10.6f %5d %5d %5d %10.2f\n", name.c_str(),
                  profile.name.c_str(), c.normalized, c.threshold, c.true_positives,
                  c.false_positives, c.false_negatives, seconds[name]);
    }
  }
  // The threshold the breakdown and the per-file table are shown at (standard profile).
  const tidegate::nab::Profile standard = tidegate::nab::StandardProfiles()[0];
  const auto standard_threshold = [&](const std::string& name) {
    return fixed_threshold >= 0 ? fixed_threshold
                                : tidegate::nab::BestThreshold(results[name], standard).threshold;
  };
  if (breakdown) {
    // Where the standard score goes, per category (the folder of each file): a detected window
    // earns at most A_TP = 1 (less the later it is found), a missed one costs A_FN = 1, a false
    // positive up to A_FP = 0.11. "lost" is what the category falls short of a perfect score, in
    // normalised points of the whole corpus (100 / (2 · windows) per unit of raw score).
    for (const std::string& name : names) {
      const double threshold = standard_threshold(name);
      std::map<std::string, std::vector<FileResult>> by_category;
      for (const FileResult& f : results[name]) {
        by_category[f.name.substr(0, f.name.find('/'))].push_back(f);
      }
      std::printf("\n%s at threshold %.6f (standard)\n%-22s %4s %4s %8s %8s %4s %8s %4s %8s %7s\n",
                  name.c_str(), threshold, "category", "win", "TP", "reward", "per TP", "FP",
                  "FP cost", "FN", "raw", "lost");
      const double per_unit = 100.0 / (2.0 * static_cast<double>(windows));
      for (const auto& [category, files] : by_category) {
        const auto c = tidegate::nab::ScoreCorpus(files, threshold, standard);
        size_t w = 0;
        for (const FileResult& f : files) w += f.windows.size();
        std::printf("%-22s %4zu %4d %8.2f %8.3f %4d %8.2f %4d %8.2f %7.1f\n", category.c_str(), w,
                    c.true_positives, c.tp_reward,
                    c.true_positives > 0 ? c.tp_reward / c.true_positives : 0.0, c.false_positives,
                    c.fp_cost, c.false_negatives, c.raw,
                    (static_cast<double>(w) - c.raw) * per_unit);
      }
    }
  }
  if (per_file) {
    for (const std::string& name : names) {
      const double threshold = standard_threshold(name);
      std::printf("\n%s at threshold %.6f (standard)\n%-60s %8s %4s %4s %4s\n", name.c_str(),
                  threshold, "file", "raw", "TP", "FP", "FN");
      for (const FileResult& f : results[name]) {
        const auto s = tidegate::nab::ScoreFile(f, threshold, standard);
        std::printf("%-60s %8.2f %4d %4d %4d\n", f.name.c_str(), s.raw, s.true_positives,
                    s.false_positives, s.false_negatives);
      }
    }
  }
  return 0;
}
