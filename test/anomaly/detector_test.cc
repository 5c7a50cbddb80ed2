#include "tidegate/anomaly/detector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

namespace tidegate::anomaly {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<ConformalDetector> Make(ConformalDetectorOptions o = {}) {
  auto d = ConformalDetector::Create(o);
  EXPECT_TRUE(d.ok()) << d.status();
  return *std::move(d);
}

// Gaussian noise around 100 with sd 2, seeded.
std::vector<double> Noise(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(100, 2);
  std::vector<double> v(n);
  for (double& x : v) x = normal(rng);
  return v;
}

TEST(ConformalDetectorTest, QuietOnNoiseFlagsASpikeAsSpike) {
  ConformalDetectorOptions o;
  o.step_seconds = 300;  // The default refractory period is then 200 steps.
  auto d = Make(o);
  const std::vector<double> xs = Noise(3000, 1);
  int flags = 0;
  for (double x : xs) flags += d->Observe(x).flag;
  // Calibrated: each of the three tests fires on ~0.1 % of pure noise at a 0.999 threshold.
  EXPECT_LE(flags, 0.004 * 3000);
  const AnomalyResult spike = d->Observe(160);
  EXPECT_TRUE(spike.flag);
  EXPECT_EQ(spike.kind, AnomalyKind::kSpike);
  EXPECT_GT(spike.score, 0.999);
}

// Detection tests use a one-step refractory so that a noise alarm just before the event cannot
// mute it; RefractoryDampsRepeatedAlarms tests the suppression itself.
ConformalDetectorOptions NoRefractory() {
  ConformalDetectorOptions o;
  o.refractory_seconds = o.step_seconds;
  return o;
}

TEST(ConformalDetectorTest, ScoresKeepResolvingBeyondTheCalibrationSet) {
  // Both values exceed every residual seen; a rank alone would give both 1 − 1/(n + 1). The tail
  // fit scores the farther one higher and below the rank's floor.
  ConformalDetectorOptions o = NoRefractory();
  auto near = Make(o);
  auto far = Make(o);
  for (double x : Noise(3000, 9)) {
    near->Observe(x);
    far->Observe(x);
  }
  const double near_score = near->Observe(118).score;
  const double far_score = far->Observe(140).score;
  EXPECT_GT(near_score, 0.999);
  EXPECT_GT(far_score, near_score);
  EXPECT_LT(1 - far_score, 1.0 / (o.calibration_window + 1));
}

TEST(ConformalDetectorTest, DipIsADip) {
  auto d = Make(NoRefractory());
  for (double x : Noise(3000, 2)) d->Observe(x);
  const AnomalyResult dip = d->Observe(40);
  EXPECT_TRUE(dip.flag);
  EXPECT_EQ(dip.kind, AnomalyKind::kDip);
}

TEST(ConformalDetectorTest, LevelShiftIsFlaggedSoon) {
  auto d = Make(NoRefractory());
  for (double x : Noise(3000, 3)) d->Observe(x);
  int first_flag = -1;
  const std::vector<double> shifted = Noise(200, 4);
  for (int i = 0; i < 200; ++i) {
    if (d->Observe(shifted[i] + 15).flag && first_flag < 0) first_flag = i;
  }
  EXPECT_GE(first_flag, 0);
  EXPECT_LT(first_flag, 10);
}

TEST(ConformalDetectorTest, RefractoryDampsRepeatedAlarms) {
  auto d = Make();
  for (double x : Noise(3000, 5)) d->Observe(x);
  EXPECT_TRUE(d->Observe(200).flag);
  EXPECT_FALSE(d->Observe(200).flag);  // One event, one alarm.
}

TEST(ConformalDetectorTest, ARepeatOfAPastExtremeIsRankedNotExtrapolated) {
  // A dip to 80 is a new minimum and flags. Later, the same 80 again is no longer new: it ties a
  // value in the window, so its novelty is its rank (2 of 2500 from below), not the tail fit's
  // extrapolation; a value just beyond it still flags.
  for (const auto& [second, flags] : {std::pair{80.0, false}, std::pair{79.5, true}}) {
    auto d = Make(NoRefractory());
    const std::vector<double> xs = Noise(2500, 4);
    for (size_t i = 0; i < xs.size(); ++i) {
      const AnomalyResult r = d->Observe(i == 2000 ? 80.0 : xs[i]);
      if (i == 2000) {
        EXPECT_TRUE(r.flag);
      }
    }
    EXPECT_EQ(d->Observe(second).flag, flags) << second;
  }
}

TEST(ConformalDetectorTest, ARecurringSpikeBecomesRoutineAnOffScheduleOneDoesNot) {
  // A quantised body (whole numbers 98 to 102, as a CPU meter reports) with a one-step spike every
  // 288 steps (give or take three), each a little higher than the last, so each is a new maximum.
  // Without the recurrence rule every spike flags; with it the first two do and the rest, each
  // arriving one usual interval after the last, are routine. A spike of the same size off the
  // schedule, or one twice as far from the median on it, still flags.
  const int jitter[] = {0, 3, -2, 1, -3, 2, 0, -1, 3, -2, 1, 0};
  auto run = [&](double tolerance, int last_gap, double last_height) {
    ConformalDetectorOptions o = NoRefractory();
    o.recurrence_tolerance = tolerance;
    auto d = Make(o);
    std::mt19937_64 rng(21);
    std::uniform_int_distribution<int> body(98, 102);
    std::vector<bool> spike_flags;
    int gap = 288;
    for (int k = 0; k <= 12; ++k) {
      for (int t = 1; t < gap; ++t) d->Observe(body(rng));
      spike_flags.push_back(d->Observe(k < 12 ? 200 + 2 * k : last_height).flag);
      gap = k < 11 ? 288 + jitter[k] : last_gap;
    }
    return spike_flags;
  };
  const std::vector<bool> off = run(0, 288, 224);
  EXPECT_EQ(std::count(off.begin(), off.end(), true), 13);
  const std::vector<bool> on = run(0.05, 288, 224);
  EXPECT_TRUE(on[0] && on[1]);
  EXPECT_EQ(std::count(on.begin() + 2, on.end(), true), 0);  // Routine from the third on.
  EXPECT_TRUE(run(0.05, 150, 224).back());                   // Off the schedule.
  EXPECT_TRUE(run(0.05, 288, 300).back());                   // Twice as far from the median.
}

TEST(ConformalDetectorTest, TheLikelihoodIsGatedByHowFarOutsideTheHistoryAValueLies) {
  // A slow wave between 0 and 100 (noise sd 1), then a jump of +30 near its trough: the values
  // after the jump lie inside the range the history covers. Ungated, the run of surprising
  // residuals raises the likelihood's flag; with the gate (x outside the central 90 % of the
  // history) it does not. The same jump from the top of the wave leaves the range and flags.
  auto run = [](double gate, double phase) {
    ConformalDetectorOptions o = NoRefractory();
    o.season_weight = 0;
    o.context_weight = 0;
    o.likelihood_gate = gate;
    o.likelihood_daily_gate = 0;  // The wave's period is not a day (tested below).
    auto d = Make(o);
    std::mt19937_64 rng(11);
    std::normal_distribution<double> noise(0, 1);
    const auto wave = [&](int t) { return 50 + 50 * std::sin(2 * std::numbers::pi * t / 1000.0); };
    const int jump = 3000 + static_cast<int>(phase * 1000);
    int flags_after_jump = 0;
    for (int t = 0; t < jump + 40; ++t) {
      const AnomalyResult r = d->Observe(wave(t) + noise(rng) + (t >= jump ? 30 : 0));
      if (t >= jump) flags_after_jump += r.flag;
    }
    return flags_after_jump;
  };
  EXPECT_GT(run(0, 0.75), 0);    // Trough (0 -> 30), ungated.
  EXPECT_EQ(run(0.9, 0.75), 0);  // Trough, gated.
  EXPECT_GT(run(0.9, 0.25), 0);  // Crest (100 -> 130), gated: outside the range.
}

TEST(ConformalDetectorTest, TheDailyGateIgnoresASurgeUsualAtThatHour) {
  // One value every 5 minutes: 10 ± 1, and every day a surge to 40 for an hour from 13:20 (step
  // 160 of 288). With the likelihood as the only term, the surge's run of surprising residuals
  // raises it, and its values lie outside the central 90 % of the history (the likelihood gate
  // passes). With the daily gate the usual surge no longer flags (at this time of day 40 is
  // common), while the same surge at 03:20 scores exactly as without the gate.
  auto run = [](double daily_gate, int surge_start_on_last_day) {
    ConformalDetectorOptions o = NoRefractory();
    o.step_seconds = 300;
    o.refractory_seconds = 300;
    o.novelty_weight = 0;
    o.season_weight = 0;
    o.context_weight = 0;
    o.likelihood_daily_gate = daily_gate;
    auto d = Make(o);
    std::mt19937_64 rng(17);
    std::normal_distribution<double> noise(0, 1);
    double top_score_in_surge = 0;
    for (int day = 0; day < 15; ++day) {
      const int start = day == 14 ? surge_start_on_last_day : 160;
      for (int step = 0; step < 288; ++step) {
        const bool surge = step >= start && step < start + 12;
        const AnomalyResult r = d->Observe(10 + noise(rng) + (surge ? 30 : 0));
        if (day == 14 && surge) top_score_in_surge = std::max(top_score_in_surge, r.score);
      }
    }
    return top_score_in_surge;
  };
  EXPECT_GE(run(0, 160), 0.999);   // The usual surge flags without the daily gate ...
  EXPECT_LT(run(0.92, 160), 0.9);  // ... and not with it (a step at the top of the profile passes).
  EXPECT_GT(run(0.92, 40), 0.99);  // The same surge at an unusual hour, gated, scores high ...
  EXPECT_EQ(run(0.92, 40), run(0, 40));  // ... exactly as without the gate.
}

TEST(ConformalDetectorTest, TheRefractoryPeriodIsADuration) {
  // The same ten-step gap between two spikes is 50 minutes at one value every 5 minutes, inside a
  // 2-hour refractory period, and 10 hours at one value an hour, past it.
  for (const auto& [step, second_flags] : {std::pair{300.0, false}, std::pair{3600.0, true}}) {
    ConformalDetectorOptions o;
    o.refractory_seconds = 7200;
    o.step_seconds = step;
    auto d = Make(o);
    for (double x : Noise(3000, 5)) d->Observe(x);
    EXPECT_TRUE(d->Observe(200).flag) << step;
    for (int i = 0; i < 9; ++i) d->Observe(100);
    EXPECT_EQ(d->Observe(400).flag, second_flags) << step;
  }
}

// A cycle of period 48 (a plateau at 80 for 16 steps, else 20) with Gaussian noise (sd 1).
std::vector<double> Cycle(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 1);
  std::vector<double> v(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t)
    v[static_cast<size_t>(t)] = ((t % 48) < 16 ? 80.0 : 20.0) + noise(rng);
  return v;
}

TEST(ConformalDetectorTest, AMissingPlateauIsFlaggedByTheSequenceTermsOnly) {
  // Every value of the event (20 ± noise where the plateau should be) is common, and it is no
  // spike relative to the local level; only the season and the context say it is out of place.
  std::vector<double> xs = Cycle(3600, 12);
  for (size_t t = 3360; t < 3376; ++t) xs[t] -= 60;  // 3360 = 70 periods: the plateau is missing.
  for (bool sequence : {true, false}) {
    ConformalDetectorOptions o = NoRefractory();
    if (!sequence) o.season_weight = o.context_weight = 0;
    auto d = Make(o);
    int event_flags = 0, other_flags = 0;
    for (size_t t = 0; t < xs.size(); ++t) {
      const AnomalyResult r = d->Observe(xs[t]);
      if (t >= 3360 && t < 3376) {
        event_flags += r.flag;
        if (r.flag) {
          EXPECT_EQ(r.kind, AnomalyKind::kDip) << t;  // Below the season.
        }
      } else if (t > 1500) {
        other_flags += r.flag;
      }
    }
    if (sequence) {
      EXPECT_GE(event_flags, 1);
    } else {
      EXPECT_EQ(event_flags, 0);
    }
    // Without a refractory period, noise alarms come in small bursts: under 1 % of 2100 steps.
    EXPECT_LE(other_flags, 21) << "sequence terms " << sequence;
  }
}

TEST(ConformalDetectorTest, ScoresAreCausal) {
  // Two streams equal up to step t and different afterwards score the same up to t: a score
  // never reads a later value. With gaps, an event before t, and every term on.
  ConformalDetectorOptions o;
  o.point_weight = 1;
  std::vector<double> xs = Noise(3000, 13);
  for (size_t i = 0; i < xs.size(); i += 97) xs[i] = std::nan("");
  for (size_t i = 1200; i < 1210; ++i) xs[i] = 180;
  std::vector<double> ys = xs;
  const size_t t = 2000;
  for (size_t i = t + 1; i < ys.size(); ++i) ys[i] = 5 * ys[i] - 300;
  auto a = Make(o);
  auto b = Make(o);
  for (size_t i = 0; i <= t; ++i) {
    const AnomalyResult ra = a->Observe(xs[i]);
    const AnomalyResult rb = b->Observe(ys[i]);
    ASSERT_EQ(ra.score, rb.score) << i;
    ASSERT_EQ(ra.flag, rb.flag) << i;
  }
}

TEST(ConformalDetectorTest, MissingValuesNeitherScoreNorChangeState) {
  auto a = Make();
  auto b = Make();
  const std::vector<double> xs = Noise(2000, 6);
  for (size_t i = 0; i < xs.size(); ++i) {
    const AnomalyResult ra = a->Observe(xs[i]);
    if (i % 10 == 0) {
      for (int k = 0; k < 5; ++k) {
        const AnomalyResult gap = b->Observe(std::nan(""));
        EXPECT_EQ(gap.score, 0);
        EXPECT_FALSE(gap.flag);
      }
    }
    const AnomalyResult rb = b->Observe(xs[i]);
    ASSERT_DOUBLE_EQ(ra.score, rb.score) << "row " << i;  // Gaps leave no trace.
  }
}

TEST(ConformalDetectorTest, ConstantSeriesScoresZeroUntilItChanges) {
  auto d = Make();
  for (int i = 0; i < 1000; ++i) {
    const AnomalyResult r = d->Observe(5);
    ASSERT_FALSE(std::isnan(r.score));
    ASSERT_FALSE(r.flag) << i;
  }
  EXPECT_TRUE(d->Observe(6).flag);
}

TEST(ConformalDetectorTest, HugeAndTinyMagnitudesStayFinite) {
  for (double scale : {1e-300, 1e-9, 1.0, 1e9, 1e300}) {
    auto d = Make();
    for (double x : Noise(1000, 7)) {
      const AnomalyResult r = d->Observe(x * scale);
      ASSERT_TRUE(std::isfinite(r.score)) << scale;
      ASSERT_GE(r.score, 0);
      ASSERT_LE(r.score, 1);
    }
  }
}

TEST(ConformalDetectorTest, OptionsAreValidatedByName) {
  ConformalDetectorOptions o;
  o.short_window = 0;
  auto d = ConformalDetector::Create(o);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("short_window = 0"));
  // Each bad assignment, on fresh options, fails with a message naming the field.
  const std::pair<const char*, const char*> bad[] = {
      {"refractory_seconds", "expected key=value"},
      {"nope=3", "unknown detector option"},
      {"refractory_seconds=abc", "not a number"},
      {"step_seconds=0", "step_seconds = 0: must be in [0.001, 1e9] seconds"},
      {"tail_fraction=1", "tail_fraction = 1: must be in (0, 1)"},
      {"context_bins=1", "context_bins = 1: must be in [2, 64]"},
      {"season_min_acf=0", "season_min_acf = 0"},
      {"point_weight=2", "point_weight = 2: must be in [0, 1]"},
      {"likelihood_daily_gate=1.5", "likelihood_daily_gate = 1.5: must be in [0, 1]"},
      {"daily_halfwidth_seconds=-1", "daily_halfwidth_seconds = -1: must be in [0, 43200]"},
      {"recurrence_tolerance=1", "recurrence_tolerance = 1: must be in [0, 1)"},
      {"recurrence_count=9", "recurrence_count = 9: must be in [1, 8]"},
  };
  for (const auto& [assignment, message] : bad) {
    ConformalDetectorOptions fresh;
    EXPECT_THAT(std::string(SetOption(fresh, assignment).message()), HasSubstr(message))
        << assignment;
  }
  // Good ones set the field.
  ConformalDetectorOptions p;
  EXPECT_TRUE(SetOption(p, "refractory_seconds=600").ok());
  EXPECT_TRUE(SetOption(p, "point_weight=1").ok());
  EXPECT_TRUE(SetOption(p, "daily_halfwidth_seconds=3600").ok());
  EXPECT_TRUE(SetOption(p, "likelihood_daily_gate=0.92").ok());
  EXPECT_TRUE(SetOption(p, "recurrence_tolerance=0.05").ok());
  EXPECT_EQ(p.refractory_seconds, 600);
  EXPECT_EQ(p.point_weight, 1);
  EXPECT_EQ(p.daily_halfwidth_seconds, 3600);
  EXPECT_EQ(p.likelihood_daily_gate, 0.92);
  EXPECT_EQ(p.recurrence_tolerance, 0.05);
  EXPECT_EQ(MakeDetector("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST(ConformalDetectorTest, RestoredStateContinuesBitForBit) {
  // A detector restored from State() mid-stream scores the rest exactly as the original, through
  // probation, a flag and its refractory period. The sequence terms are rebuilt from the saved
  // history, so they match exactly while the history holds everything seen (here 200 < 300).
  ConformalDetectorOptions o;
  o.level_window = 8;
  o.spread_window = 40;
  o.calibration_window = 100;
  o.long_window = 60;
  o.probation = 30;
  o.refractory_seconds = 20 * o.step_seconds;
  o.history_window = 300;
  auto a = Make(o);
  std::vector<double> xs = Noise(400, 7);
  xs[250] = 170;  // A spike after the restore point.
  for (int i = 0; i < 200; ++i) a->Observe(xs[i]);
  auto b = ConformalDetector::Restore(o, a->State());
  ASSERT_TRUE(b.ok()) << b.status();
  int flags = 0;
  for (int i = 200; i < 400; ++i) {
    const AnomalyResult ra = a->Observe(xs[i]);
    const AnomalyResult rb = (*b)->Observe(xs[i]);
    EXPECT_EQ(ra.score, rb.score) << "at " << i;
    EXPECT_EQ(ra.flag, rb.flag) << "at " << i;
    EXPECT_EQ(ra.kind, rb.kind) << "at " << i;
    flags += ra.flag;
  }
  EXPECT_GE(flags, 1);  // The spike was scored on both sides of the restore.
  const ConformalDetectorState sa = a->State(), sb = (*b)->State();
  EXPECT_EQ(sa.history, sb.history);
  EXPECT_EQ(sa.seen, sb.seen);
  EXPECT_EQ(sa.since_flag, sb.since_flag);
}

TEST(ConformalDetectorTest, ARestoredDetectorRemembersTheRecurringExtremes) {
  // A spike every 100 steps on a quantised body: routine by the time of the restore. The
  // recurrence memory is not in the state but rebuilt from the history, so the restored detector
  // scores the next spikes exactly as the original does: as routine.
  ConformalDetectorOptions o = NoRefractory();
  o.recurrence_tolerance = 0.05;
  auto a = Make(o);
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int> body(98, 102);
  std::vector<double> xs(1500);
  for (size_t t = 0; t < xs.size(); ++t)
    xs[t] = t % 100 == 99 ? 200.0 + static_cast<double>(t / 100) : body(rng);
  for (size_t t = 0; t < 1000; ++t) a->Observe(xs[t]);
  auto b = ConformalDetector::Restore(o, a->State());
  ASSERT_TRUE(b.ok()) << b.status();
  for (size_t t = 1000; t < xs.size(); ++t) {
    const AnomalyResult ra = a->Observe(xs[t]);
    const AnomalyResult rb = (*b)->Observe(xs[t]);
    EXPECT_EQ(ra.score, rb.score) << "at " << t;
    if (t % 100 == 99) {
      EXPECT_FALSE(rb.flag) << "at " << t;
    }
  }
}

TEST(ConformalDetectorTest, RestoreRefusesStateThatDoesNotFitTheOptions) {
  ConformalDetectorOptions o;
  o.level_window = 4;
  ConformalDetectorState s;
  s.values = {1, 2, 3, 4, 5};
  auto d = ConformalDetector::Restore(o, s);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(d.status().message(), HasSubstr("values holds 5 values"));
  s.values = {1, NAN};
  d = ConformalDetector::Restore(o, s);
  EXPECT_THAT(d.status().message(), HasSubstr("values holds a non-finite value"));
  s.values = {1};
  s.since_flag = -2;
  d = ConformalDetector::Restore(o, s);
  EXPECT_THAT(d.status().message(), HasSubstr("since_flag = -2"));
  s.since_flag = -1;
  EXPECT_TRUE(ConformalDetector::Restore(o, s).ok());
  s.surprise = {1, 1e300};  // Not a −log p: refused rather than overflowing the running sums.
  d = ConformalDetector::Restore(o, s);
  EXPECT_THAT(d.status().message(), HasSubstr("surprise holds"));
}

TEST(WindowedGaussianDetectorTest, ScoresTailProbability) {
  auto d = *WindowedGaussianDetector::Create({});
  for (double x : Noise(1000, 8)) d->Observe(x);
  EXPECT_LT(d->Observe(100).score, 0.5);
  EXPECT_GT(d->Observe(120).score, 0.9999);
  EXPECT_EQ(d->Observe(std::nan("")).score, 0);
}

}  // namespace
}  // namespace tidegate::anomaly
