#include "nab_scorer.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace tidegate::nab {

std::vector<Profile> StandardProfiles() {
  return {{"standard", 1, 0.11, 1}, {"reward_low_FP", 1, 0.22, 1}, {"reward_low_FN", 1, 0.11, 2}};
}

double ScaledSigmoid(double y) { return 2 / (1 + std::exp(5 * y)) - 1; }

size_t ProbationRows(size_t n) {
  return std::min<size_t>(static_cast<size_t>(std::floor(0.15 * static_cast<double>(n))), 750);
}

FileScore ScoreFile(const FileResult& file, double threshold, const Profile& profile) {
  FileScore out;
  std::vector<bool> detected(file.windows.size(), false);
  const size_t start = ProbationRows(file.time_s.size());
  for (size_t i = start; i < file.time_s.size(); ++i) {
    if (!(file.score[i] >= threshold)) continue;
    const double t = file.time_s[i];
    int inside = -1;
    int previous = -1;  // Latest window ending before t.
    for (size_t w = 0; w < file.windows.size(); ++w) {
      const Window& win = file.windows[w];
      if (t >= win.begin_s && t <= win.end_s) inside = static_cast<int>(w);
      if (win.end_s < t && (previous < 0 || win.end_s > file.windows[previous].end_s)) {
        previous = static_cast<int>(w);
      }
    }
    if (inside >= 0) {
      if (detected[inside]) continue;  // Only the earliest detection in a window counts.
      detected[inside] = true;
      const Window& win = file.windows[inside];
      const double width = win.end_s - win.begin_s;
      const double p = width > 0 ? (t - win.end_s) / width : 0;  // −1 at the left edge, 0 right.
      const double reward = profile.a_tp * ScaledSigmoid(p) / ScaledSigmoid(-1);
      out.raw += reward;
      out.tp_reward += reward;
      ++out.true_positives;
    } else {
      ++out.false_positives;
      double cost = -profile.a_fp;
      if (previous >= 0) {
        const Window& win = file.windows[previous];
        const double width = win.end_s - win.begin_s;
        const double x = width > 0 ? (t - win.end_s) / width : 1e9;
        cost = profile.a_fp * ScaledSigmoid(x);
      }
      out.raw += cost;
      out.fp_cost += cost;
    }
  }
  for (bool d : detected) {
    if (!d) {
      out.raw -= profile.a_fn;
      ++out.false_negatives;
    }
  }
  return out;
}

CorpusScore ScoreCorpus(const std::vector<FileResult>& files, double threshold,
                        const Profile& profile) {
  CorpusScore c;
  c.threshold = threshold;
  size_t windows = 0;
  for (const FileResult& f : files) {
    const FileScore s = ScoreFile(f, threshold, profile);
    c.raw += s.raw;
    c.true_positives += s.true_positives;
    c.false_positives += s.false_positives;
    c.false_negatives += s.false_negatives;
    c.tp_reward += s.tp_reward;
    c.fp_cost += s.fp_cost;
    windows += f.windows.size();
  }
  const double perfect = static_cast<double>(windows) * profile.a_tp;
  const double null = -static_cast<double>(windows) * profile.a_fn;
  c.normalized = perfect > null ? 100 * (c.raw - null) / (perfect - null) : 0;
  return c;
}

CorpusScore BestThreshold(const std::vector<FileResult>& files, const Profile& profile) {
  // Candidates: a grid dense near 1 (scores are tail probabilities), plus quantiles of the scores.
  std::set<double> candidates;
  for (double k = 0; k <= 10; k += 0.05) candidates.insert(1 - std::pow(10, -k));
  for (int i = 1; i <= 100; ++i) candidates.insert(i / 100.0);
  std::vector<double> all;
  for (const FileResult& f : files) all.insert(all.end(), f.score.begin(), f.score.end());
  std::sort(all.begin(), all.end());
  if (!all.empty()) {
    for (int q = 0; q < 400; ++q) {
      const double frac = 1 - std::pow(10, -4.0 * q / 400);
      candidates.insert(all[std::min(all.size() - 1, static_cast<size_t>(frac * all.size()))]);
    }
  }
  CorpusScore best = ScoreCorpus(files, 1.0 + 1e-9, profile);  // Never fires: the null score.
  for (double t : candidates) {
    if (!(t > 0)) continue;
    const CorpusScore c = ScoreCorpus(files, t, profile);
    if (c.raw > best.raw) best = c;
  }
  return best;
}

}  // namespace tidegate::nab
