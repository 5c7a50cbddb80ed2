// The NAB scoring rules on hand-made windows (SCORING.md rules 1-8).
#include "nab_scorer.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tidegate::nab {
namespace {

const Profile kStandard{"standard", 1, 0.11, 1};

// 1,000 rows one second apart; probation is the first 150 rows.
FileResult File(std::vector<Window> windows) {
  FileResult f;
  f.name = "f.csv";
  for (int i = 0; i < 1000; ++i) {
    f.time_s.push_back(i);
    f.score.push_back(0);
  }
  f.windows = std::move(windows);
  return f;
}

TEST(NabScorerTest, SigmoidAndProbation) {
  EXPECT_DOUBLE_EQ(ScaledSigmoid(0), 0);
  EXPECT_NEAR(ScaledSigmoid(-1), 2 / (1 + std::exp(-5.0)) - 1, 1e-15);
  EXPECT_LT(ScaledSigmoid(3), -0.99);
  EXPECT_EQ(ProbationRows(1000), 150u);
  EXPECT_EQ(ProbationRows(10000), 750u);
}

TEST(NabScorerTest, EarliestDetectionInWindowEarnsScaledReward) {
  FileResult f = File({{400, 500}});
  f.score[400] = 1;  // Left edge: full reward.
  f.score[450] = 1;  // Later detections in the same window count nothing.
  FileScore s = ScoreFile(f, 0.5, kStandard);
  EXPECT_NEAR(s.raw, 1.0, 1e-12);
  EXPECT_EQ(s.true_positives, 1);
  EXPECT_EQ(s.false_positives, 0);

  FileResult mid = File({{400, 500}});
  mid.score[450] = 1;  // p = -0.5.
  EXPECT_NEAR(ScoreFile(mid, 0.5, kStandard).raw, ScaledSigmoid(-0.5) / ScaledSigmoid(-1), 1e-12);
}

TEST(NabScorerTest, MissedWindowCostsAfn) {
  FileResult f = File({{400, 500}, {700, 800}});
  f.score[720] = 1;
  FileScore s = ScoreFile(f, 0.5, kStandard);
  EXPECT_EQ(s.false_negatives, 1);
  EXPECT_NEAR(s.raw, ScaledSigmoid(-0.8) / ScaledSigmoid(-1) - 1, 1e-12);
}

TEST(NabScorerTest, FalsePositiveCostDependsOnDistanceFromPreviousWindow) {
  FileResult before = File({{400, 500}});
  before.score[200] = 1;  // Before the first window: the full cost.
  before.score[450] = 1;
  EXPECT_NEAR(ScoreFile(before, 0.5, kStandard).raw,
              -0.11 + ScaledSigmoid(-0.5) / ScaledSigmoid(-1), 1e-12);

  FileResult after = File({{400, 500}});
  after.score[450] = 1;
  after.score[510] = 1;  // 0.1 window-widths after the end: cheap.
  after.score[900] = 1;  // 4 widths after: nearly the full cost.
  const double want =
      ScaledSigmoid(-0.5) / ScaledSigmoid(-1) + 0.11 * ScaledSigmoid(0.1) + 0.11 * ScaledSigmoid(4);
  FileScore s = ScoreFile(after, 0.5, kStandard);
  EXPECT_NEAR(s.raw, want, 1e-12);
  EXPECT_EQ(s.false_positives, 2);
  EXPECT_GT(0.11 * ScaledSigmoid(0.1), 0.11 * ScaledSigmoid(4));
}

TEST(NabScorerTest, RawSplitsIntoRewardsCostsAndMisses) {
  FileResult f = File({{400, 500}, {700, 800}});
  f.score[200] = 1;  // A false positive before the first window.
  f.score[450] = 1;  // Window 1, half-way.
  f.score[900] = 1;  // A false positive one width after window 2.
  FileScore s = ScoreFile(f, 0.5, kStandard);
  EXPECT_NEAR(s.tp_reward, ScaledSigmoid(-0.5) / ScaledSigmoid(-1), 1e-12);
  EXPECT_NEAR(s.fp_cost, -0.11 + 0.11 * ScaledSigmoid(1), 1e-12);
  EXPECT_EQ(s.false_negatives, 1);  // Window 2 missed.
  EXPECT_NEAR(s.raw, s.tp_reward + s.fp_cost - 1, 1e-12);
  const CorpusScore c = ScoreCorpus({f, f}, 0.5, kStandard);
  EXPECT_NEAR(c.tp_reward, 2 * s.tp_reward, 1e-12);
  EXPECT_NEAR(c.fp_cost, 2 * s.fp_cost, 1e-12);
}

TEST(NabScorerTest, DetectionsInProbationAreIgnored) {
  FileResult f = File({{100, 200}});
  f.score[120] = 1;  // Row 120 < 150: probation.
  FileScore s = ScoreFile(f, 0.5, kStandard);
  EXPECT_EQ(s.true_positives, 0);
  EXPECT_EQ(s.false_negatives, 1);
}

TEST(NabScorerTest, NormalisationNullZeroPerfectHundred) {
  FileResult f = File({{400, 500}, {700, 800}});
  EXPECT_NEAR(ScoreCorpus({f}, 0.5, kStandard).normalized, 0, 1e-12);
  f.score[400] = 1;
  f.score[700] = 1;
  EXPECT_NEAR(ScoreCorpus({f}, 0.5, kStandard).normalized, 100, 1e-9);
  // reward_low_FN doubles the miss cost: null is -2 per window.
  const Profile low_fn{"reward_low_FN", 1, 0.11, 2};
  f.score[700] = 0;
  const CorpusScore c = ScoreCorpus({f}, 0.5, low_fn);
  EXPECT_NEAR(c.normalized, 100 * (1 - 2 - (-4)) / (2 - (-4)), 1e-9);
}

TEST(NabScorerTest, BestThresholdPrefersTheSeparatingValue) {
  FileResult f = File({{400, 500}});
  for (int i = 150; i < 1000; ++i) f.score[i] = 0.3;  // Noise everywhere.
  f.score[410] = 0.95;
  const CorpusScore c = BestThreshold({f}, kStandard);
  EXPECT_GT(c.threshold, 0.3);
  EXPECT_LE(c.threshold, 0.95);
  EXPECT_EQ(c.false_positives, 0);
  EXPECT_EQ(c.true_positives, 1);
}

}  // namespace
}  // namespace tidegate::nab
