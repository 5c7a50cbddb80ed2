// The NAB scoring rules, written from ../shared/data/NAB-dev/SCORING.md: probation, windowed
// rewards with the scaled sigmoid, false-positive costs relative to the previous window, missed
// windows, three profiles, one threshold per detector and profile, and normalisation.
#ifndef TIDEGATE_BENCH_ANOMALY_NAB_SCORER_H_
#define TIDEGATE_BENCH_ANOMALY_NAB_SCORER_H_

#include <string>
#include <vector>

namespace tidegate::nab {

struct Profile {
  std::string name;
  double a_tp = 1;
  double a_fp = 0.11;
  double a_fn = 1;
};
std::vector<Profile> StandardProfiles();  // standard, reward_low_FP, reward_low_FN

struct Window {
  double begin_s = 0;  // Inclusive, seconds since the epoch.
  double end_s = 0;    // Inclusive.
};

// One file: row times and the detector's scores, in row order, and its labelled windows.
struct FileResult {
  std::string name;
  std::vector<double> time_s;
  std::vector<double> score;
  std::vector<Window> windows;
};

// σ(y) = 2 / (1 + e^{5y}) − 1.
double ScaledSigmoid(double y);

// Rows not scored at the start of a file of n rows: min(floor(0.15 n), 750).
size_t ProbationRows(size_t n);

struct FileScore {
  double raw = 0;
  int true_positives = 0;   // Windows detected.
  int false_positives = 0;  // Detections outside every window.
  int false_negatives = 0;  // Windows missed.
  double tp_reward = 0;     // Σ rewards of the detected windows (≤ true_positives · A_TP).
  double fp_cost = 0;       // Σ costs of the false positives (≤ 0).
};

// The raw score of one file at `threshold` (detections: score >= threshold).
FileScore ScoreFile(const FileResult& file, double threshold, const Profile& profile);

struct CorpusScore {
  double threshold = 0;
  double raw = 0;
  double normalized = 0;  // 100 (S − S_null) / (S_perfect − S_null)
  int true_positives = 0;
  int false_positives = 0;
  int false_negatives = 0;
  double tp_reward = 0;  // As in FileScore, summed over the files.
  double fp_cost = 0;
};

// Scores the corpus at one threshold.
CorpusScore ScoreCorpus(const std::vector<FileResult>& files, double threshold,
                        const Profile& profile);
// Chooses the threshold maximising the corpus's raw score (rule 7) among candidates spanning
// the detector's scores, and returns the score there.
CorpusScore BestThreshold(const std::vector<FileResult>& files, const Profile& profile);

}  // namespace tidegate::nab

#endif  // TIDEGATE_BENCH_ANOMALY_NAB_SCORER_H_
