// The global LSTM on generated series: learning, intervals, determinism, persistence, bad input.
// Small shapes and a few hundred steps keep every test to seconds.
#include "tidegate/learn/lstm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numbers>
#include <random>

#include "learn/network.h"
#include "learn/preprocess.h"
#include "learn/trainer.h"
#include "tidegate/forecast/model_registry.h"

namespace tidegate::learn {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kPeriod = 12;
constexpr int kHorizon = 12;
constexpr uint64_t kDataSeed = 424242;

LstmOptions SmallOptions() {
  LstmOptions o;
  o.period = kPeriod;
  o.patches = 4;
  o.horizon = kHorizon;
  o.hidden = 16;
  return o;
}

TrainOptions FastTraining(int steps = 400) {
  TrainOptions t;
  t.steps = steps;
  t.batch = 64;
  t.learning_rate = 1e-2;
  t.warmup_steps = 20;
  t.seed = 7;
  return t;
}

// A family of series: level · (1 + a·sin(2πt/P + φ)) · (1 + slope·t) + Gaussian noise (σ = 3 %
// of the level); level, amplitude, phase and slope differ by series.
forecast::Series SineSeries(std::mt19937_64& rng, int n, double amplitude_scale = 1) {
  std::uniform_real_distribution<double> u(0, 1);
  const double level = 50 + 950 * u(rng);
  const double a = amplitude_scale * (0.2 + 0.5 * u(rng));
  const double phase = 2 * std::numbers::pi * u(rng);
  const double slope = 0.001 * (u(rng) - 0.5);
  std::normal_distribution<double> noise(0, 0.03 * level);
  forecast::Series s;
  s.step = std::chrono::hours(1);
  s.start = WallTime(std::chrono::hours(24 * 19000));
  for (int t = 0; t < n; ++t) {
    s.values.push_back(level * (1 + a * std::sin(2 * std::numbers::pi * t / kPeriod + phase)) *
                           (1 + slope * t) +
                       noise(rng));
  }
  return s;
}

std::vector<forecast::Series> Family(uint64_t seed, int count, int n, double amplitude = 1) {
  std::mt19937_64 rng(seed);
  std::vector<forecast::Series> out;
  for (int i = 0; i < count; ++i) out.push_back(SineSeries(rng, n, amplitude));
  return out;
}

// Trained once for the whole suite.
class LstmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    train_ = new std::vector<forecast::Series>(Family(kDataSeed, 40, 240));
    auto m = LstmModel::Train(*train_, SmallOptions(), FastTraining());
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = new std::shared_ptr<const LstmModel>(*m);
  }
  static void TearDownTestSuite() {
    delete model_;
    delete train_;
  }
  static std::unique_ptr<forecast::Forecaster> Adapter() { return (*model_)->NewForecaster(); }

  static std::vector<forecast::Series>* train_;
  static std::shared_ptr<const LstmModel>* model_;
};
std::vector<forecast::Series>* LstmTest::train_ = nullptr;
std::shared_ptr<const LstmModel>* LstmTest::model_ = nullptr;

// Splits each held-out series into a fitted part and the last kHorizon values.
struct Split {
  forecast::Series fit;
  std::vector<double> future;
};
std::vector<Split> HeldOut(uint64_t seed, int count, double amplitude = 1) {
  std::vector<Split> out;
  for (auto& s : Family(seed, count, 200, amplitude)) {
    Split sp;
    sp.fit = s;
    sp.fit.values.resize(s.values.size() - kHorizon);
    sp.future.assign(s.values.end() - kHorizon, s.values.end());
    out.push_back(std::move(sp));
  }
  return out;
}

double ScaledError(forecast::Forecaster& model, const std::vector<Split>& data) {
  double err = 0;
  for (const auto& sp : data) {
    EXPECT_TRUE(model.Fit(sp.fit).ok());
    const std::vector<double> levels = {80};
    auto f = model.Predict(kHorizon, levels);
    EXPECT_TRUE(f.ok()) << f.status();
    double level = 0;
    for (double v : sp.future) level += v / kHorizon;
    for (int k = 0; k < kHorizon; ++k) err += std::fabs(f->mean[k] - sp.future[k]) / level;
  }
  return err / (data.size() * kHorizon);
}

// Without the libtorch module, training fails with FailedPrecondition naming every location tried
// and why each failed (the daemon logs it and keeps forecasting with the classical models).
TEST(TrainerModuleTest, AMissingOrBrokenModuleIsNamedWithTheReason) {
  const std::string not_a_library = ::testing::TempDir() + "/not_a_library.so";
  std::FILE* f = std::fopen(not_a_library.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("not an ELF file\n", f);
  std::fclose(f);
  const absl::Status s =
      ProbeTrainerModule({"/nonexistent/libtidegate_learn_torch.so", not_a_library});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(s.message());
  EXPECT_THAT(message, HasSubstr(kTrainerModuleName));
  EXPECT_THAT(message, HasSubstr("/nonexistent/libtidegate_learn_torch.so (not found)"));
  EXPECT_THAT(message, HasSubstr(not_a_library + " ("));
  EXPECT_THAT(std::string(ProbeTrainerModule({}).message()), HasSubstr("no location"));
  std::remove(not_a_library.c_str());
}

TEST_F(LstmTest, LearnsTheFamilyAndBeatsSeasonalNaiveOnHeldOutSeries) {
  const auto held_out = HeldOut(kDataSeed + 1, 20);
  auto lstm = Adapter();
  auto snaive = forecast::MakeForecaster("snaive").value();
  std::vector<Split> with_period = held_out;
  for (auto& sp : with_period) sp.fit.seasonal_periods = {kPeriod};
  const double lstm_err = ScaledError(*lstm, held_out);
  const double snaive_err = ScaledError(*snaive, with_period);
  // Seasonal naive carries two noise draws (≈ 3.4 % mean absolute error); the model, which
  // learned the shape across series, should carry about one.
  EXPECT_LT(lstm_err, 0.9 * snaive_err) << "lstm " << lstm_err << " snaive " << snaive_err;
  EXPECT_GT((*model_)->summary().validation_loss, 0);
  EXPECT_EQ((*model_)->summary().series_used, 40);
}

TEST_F(LstmTest, QuantilesAreOrderedAndCoverRoughlyNominally) {
  const auto held_out = HeldOut(kDataSeed + 2, 30);
  auto lstm = Adapter();
  const std::vector<double> levels = {50, 80, 95};
  int inside80 = 0, inside95 = 0, total = 0;
  for (const auto& sp : held_out) {
    ASSERT_TRUE(lstm->Fit(sp.fit).ok());
    auto f = lstm->Predict(kHorizon, levels);
    ASSERT_TRUE(f.ok());
    for (int k = 0; k < kHorizon; ++k) {
      const auto& p50 = f->intervals[0];
      const auto& p80 = f->intervals[1];
      const auto& p95 = f->intervals[2];
      ASSERT_LE(p95.lower[k], p80.lower[k]);
      ASSERT_LE(p80.lower[k], p50.lower[k]);
      ASSERT_LE(p50.lower[k], f->mean[k]);
      ASSERT_LE(f->mean[k], p50.upper[k]);
      ASSERT_LE(p50.upper[k], p80.upper[k]);
      ASSERT_LE(p80.upper[k], p95.upper[k]);
      inside80 += sp.future[k] >= p80.lower[k] && sp.future[k] <= p80.upper[k];
      inside95 += sp.future[k] >= p95.lower[k] && sp.future[k] <= p95.upper[k];
      ++total;
    }
  }
  const double c80 = static_cast<double>(inside80) / total;
  const double c95 = static_cast<double>(inside95) / total;
  EXPECT_GT(c80, 0.6) << c80;
  EXPECT_LT(c80, 0.97) << c80;
  EXPECT_GT(c95, 0.8) << c95;
  EXPECT_GE(c95, c80);
}

TEST_F(LstmTest, SameSeedGivesIdenticalModelsAndForecasts) {
  auto a = LstmModel::Train(*train_, SmallOptions(), FastTraining(30)).value();
  auto b = LstmModel::Train(*train_, SmallOptions(), FastTraining(30)).value();
  TrainOptions other = FastTraining(30);
  other.seed = 8;
  auto c = LstmModel::Train(*train_, SmallOptions(), other).value();
  EXPECT_EQ(a->Serialize(), b->Serialize());
  EXPECT_EQ(a->Fingerprint(), b->Fingerprint());
  EXPECT_NE(a->Fingerprint(), c->Fingerprint());
  auto fa = a->NewForecaster();
  auto fb = b->NewForecaster();
  ASSERT_TRUE(fa->Fit((*train_)[0]).ok());
  ASSERT_TRUE(fb->Fit((*train_)[0]).ok());
  const std::vector<double> levels = {95};
  EXPECT_EQ(fa->Predict(30, levels)->mean, fb->Predict(30, levels)->mean);
}

TEST_F(LstmTest, SaveLoadRoundTripIsIdentical) {
  const std::string bytes = (*model_)->Serialize();
  auto loaded = LstmModel::Deserialize(bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->Serialize(), bytes);
  EXPECT_EQ((*loaded)->Fingerprint(), (*model_)->Fingerprint());

  const std::string path = ::testing::TempDir() + "/lstm_roundtrip.tglstm";
  ASSERT_TRUE((*model_)->SaveFile(path).ok());
  auto from_file = LstmModel::LoadFile(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  std::remove(path.c_str());

  // A fitted adapter saved and restored through the registry predicts bit-identically.
  auto adapter = Adapter();
  ASSERT_TRUE(adapter->Fit((*train_)[3]).ok());
  ASSERT_TRUE(adapter->Update(123.0).ok());
  ASSERT_TRUE(adapter->Update(NAN).ok());
  const forecast::ModelContext context = LstmContext(*from_file);
  auto restored = forecast::Forecaster::Load(adapter->Serialize(), context);
  ASSERT_TRUE(restored.ok()) << restored.status();
  const std::vector<double> levels = {80, 95};
  auto f1 = adapter->Predict(20, levels).value();
  auto f2 = (*restored)->Predict(20, levels).value();
  EXPECT_EQ(f1.mean, f2.mean);
  EXPECT_EQ(f1.intervals[1].upper, f2.intervals[1].upper);
}

TEST_F(LstmTest, RegistryMakesTheAdapterFromTheContext) {
  auto missing = forecast::MakeForecaster("lstm");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("tidegate train"));
  auto made = forecast::MakeForecaster("lstm", LstmContext(*model_));
  ASSERT_TRUE(made.ok());
  EXPECT_EQ((*made)->Name(), "lstm");
}

TEST_F(LstmTest, ForecasterContract) {
  auto m = Adapter();
  const std::vector<double> levels = {80, 95};
  EXPECT_EQ(m->Predict(4, levels).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(m->Update(1).code(), absl::StatusCode::kFailedPrecondition);
  forecast::Series s = (*train_)[5];
  s.values[100] = NAN;  // Missing values are interpolated, not fatal.
  ASSERT_TRUE(m->Fit(s).ok());
  EXPECT_EQ(m->Summary().model, "lstm");
  EXPECT_TRUE(m->Summary().fallback.empty());
  EXPECT_EQ(m->Predict(0, levels).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<double> bad_level = {100};
  EXPECT_EQ(m->Predict(3, bad_level).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m->Update(INFINITY).code(), absl::StatusCode::kInvalidArgument);
  // Beyond the trained horizon the median path is fed back: still finite and ordered.
  auto f = m->Predict(5 * kHorizon + 3, levels);
  ASSERT_TRUE(f.ok());
  for (int i = 0; i < f->horizon(); ++i) {
    ASSERT_TRUE(std::isfinite(f->mean[i]));
    ASSERT_LE(f->intervals[1].lower[i], f->intervals[0].lower[i]);
    ASSERT_LE(f->intervals[0].lower[i], f->mean[i]);
    ASSERT_LE(f->mean[i], f->intervals[0].upper[i]);
  }
  // Update moves the origin: the new step-1 forecast is the old step-2 one only if nothing
  // changed, so after a surprising value it differs.
  auto before = m->Predict(2, levels).value();
  ASSERT_TRUE(m->Update(before.mean[0] * 3).ok());
  auto after = m->Predict(1, levels).value();
  EXPECT_NE(after.mean[0], before.mean[1]);
  auto clone = m->Clone();
  EXPECT_EQ(clone->Predict(7, levels)->mean, m->Predict(7, levels)->mean);
}

TEST_F(LstmTest, ShortSeriesFallsBackToSeasonalNaive) {
  auto m = Adapter();
  forecast::Series s = (*train_)[0];
  s.values.resize(30);  // Window is 48.
  ASSERT_TRUE(m->Fit(s).ok());
  EXPECT_THAT(m->Summary().fallback, HasSubstr("fitted snaive instead"));
  const std::vector<double> levels = {95};
  auto f = m->Predict(6, levels);
  ASSERT_TRUE(f.ok());
  EXPECT_DOUBLE_EQ(f->mean[0], s.values[30 - kPeriod]);
  auto restored = forecast::Forecaster::Load(m->Serialize(), LstmContext(*model_));
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ((*restored)->Predict(6, levels)->mean, f->mean);
}

TEST_F(LstmTest, FineTuningAdaptsToANewShapeAndLeavesTheModelUnchanged) {
  // A family with twice the amplitude: fine-tuning on it should cut the error there.
  const auto shifted = HeldOut(kDataSeed + 3, 20, 2.0);
  std::vector<forecast::Series> recent = Family(kDataSeed + 4, 20, 200, 2.0);
  const std::string before_bytes = (*model_)->Serialize();
  auto base = Adapter();
  const double before = ScaledError(*base, shifted);
  TrainOptions tune = FastTraining(200);
  tune.learning_rate = 3e-3;
  auto tuned = (*model_)->FineTune(recent, tune);
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  auto adapted = (*tuned)->NewForecaster();
  const double after = ScaledError(*adapted, shifted);
  EXPECT_LT(after, before) << "before " << before << " after " << after;
  EXPECT_EQ((*model_)->Serialize(), before_bytes);
  EXPECT_NE((*tuned)->Fingerprint(), (*model_)->Fingerprint());
  EXPECT_EQ((*tuned)->summary().steps, (*model_)->summary().steps + 200);
  // A state saved against the old weights is refused by the tuned model.
  ASSERT_TRUE(base->Fit(shifted[0].fit).ok());
  auto refused = forecast::Forecaster::Load(base->Serialize(), LstmContext(*tuned));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("saved against LSTM weights"));
}

TEST_F(LstmTest, TrainingStopsWhenCancelled) {
  TrainOptions t = FastTraining(400);
  int polls = 0;
  t.cancelled = [&polls] { return ++polls > 5; };  // Five steps run, the sixth is refused.
  auto m = LstmModel::Train(*train_, SmallOptions(), t);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("cancelled at step 5"));
  auto tuned = (*model_)->FineTune(*train_, t);
  EXPECT_EQ(tuned.status().code(), absl::StatusCode::kCancelled);
}

TEST_F(LstmTest, HandWrittenForwardMatchesTorch) {
  // Inference runs without libtorch: it must compute what the trainer's torch graph computes.
  const LstmOptions o = (*model_)->options();
  auto trainer = NetTrainer::Create((*model_)->weights(), o, 1).value();
  std::mt19937_64 rng(3);
  std::normal_distribution<float> n01(0, 1);
  Batch batch;
  batch.size = 8;
  for (int i = 0; i < 8 * o.patches * (o.period + kCalendarFeatures); ++i)
    batch.patches.push_back(n01(rng));
  for (int i = 0; i < 8 * (o.period + kCalendarFeatures); ++i) batch.extra.push_back(n01(rng));
  for (int i = 0; i < 8 * o.horizon; ++i) batch.targets.push_back(n01(rng));
  const double torch_loss = trainer->Loss(batch).value();
  const size_t nq = o.quantiles.size();
  const size_t pin = o.patches * (o.period + kCalendarFeatures);
  const size_t ein = o.period + kCalendarFeatures;
  double loss = 0;
  std::vector<float> out(o.horizon * nq);
  for (int b = 0; b < 8; ++b) {
    (*model_)->weights().Forward(std::span<const float>(batch.patches).subspan(b * pin, pin),
                                 o.patches,
                                 std::span<const float>(batch.extra).subspan(b * ein, ein), out);
    for (int k = 0; k < o.horizon; ++k) {
      for (size_t q = 0; q < nq; ++q) {
        const double u = batch.targets[b * o.horizon + k] - out[k * nq + q];
        const double tau = o.quantiles[q];
        loss += std::max(tau * u, (tau - 1) * u);
      }
    }
  }
  loss /= 8.0 * o.horizon * nq;
  EXPECT_NEAR(loss, torch_loss, 1e-5 * std::max(1.0, torch_loss));
}

TEST(LstmBadInputTest, OptionsAndSeriesAreValidated) {
  const std::vector<forecast::Series> data = Family(1, 3, 200);
  LstmOptions o = SmallOptions();
  o.hidden = 2;
  auto r = LstmModel::Train(data, o, FastTraining(1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("hidden = 2"));
  o = SmallOptions();
  o.quantiles = {0.1, 0.5, 0.5};
  EXPECT_THAT(std::string(LstmModel::Train(data, o, FastTraining(1)).status().message()),
              HasSubstr("quantiles[2] = 0.5 is invalid: must be strictly increasing"));
  TrainOptions t = FastTraining(1);
  t.batch = 0;
  EXPECT_EQ(LstmModel::Train(data, SmallOptions(), t).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<forecast::Series> bad = data;
  bad[2].values[17] = INFINITY;
  auto inf = LstmModel::Train(bad, SmallOptions(), FastTraining(1));
  EXPECT_EQ(inf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(inf.status().message()), HasSubstr("training series 2"));
  EXPECT_THAT(std::string(inf.status().message()), HasSubstr("17"));
  std::vector<forecast::Series> shorts = Family(1, 3, 50);
  auto too_short = LstmModel::Train(shorts, SmallOptions(), FastTraining(1));
  EXPECT_EQ(too_short.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(too_short.status().message()), HasSubstr("72 values"));
}

TEST(LstmBadInputTest, CorruptOrForeignBytesAreRejected) {
  auto model = LstmModel::Train(Family(2, 4, 150), SmallOptions(), FastTraining(2)).value();
  const std::string good = model->Serialize();
  EXPECT_THAT(std::string(LstmModel::Deserialize("hello").status().message()),
              HasSubstr("bad magic"));
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  auto corrupt = LstmModel::Deserialize(flipped);
  EXPECT_EQ(corrupt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(corrupt.status().message()), HasSubstr("checksum"));
  EXPECT_EQ(LstmModel::Deserialize(good.substr(0, good.size() - 100)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LstmModel::Deserialize(good.substr(0, 8)).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string future = good;
  future[6] = 9;  // Format version (little-endian u32 after the 6-byte magic).
  EXPECT_THAT(std::string(LstmModel::Deserialize(future).status().message()),
              HasSubstr("format version 9"));
  auto missing = LstmModel::LoadFile("/nonexistent/dir/model.tglstm");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  // Adapter state: truncated bytes are refused and leave the adapter unfitted.
  auto adapter = model->NewForecaster();
  ASSERT_TRUE(adapter->Fit(Family(3, 1, 150)[0]).ok());
  const std::string state = adapter->SaveState();
  auto fresh = model->NewForecaster();
  EXPECT_EQ(fresh->LoadState(state.substr(0, state.size() - 5)).code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<double> levels = {95};
  EXPECT_EQ(fresh->Predict(1, levels).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(LstmPreprocessTest, SeasonalIndicesAndInterpolation) {
  std::vector<double> v;
  for (int t = 0; t < 120; ++t) v.push_back(100 * (1 + 0.5 * std::sin(2 * M_PI * t / 12)));
  SeriesProfile p = SeriesProfile::Fit(v, 12);
  EXPECT_TRUE(p.multiplicative);
  for (int t = 0; t < 12; ++t) EXPECT_NEAR(p.Deseasonalise(v[60 + t], 60 + t), 100, 1.0);
  std::vector<double> z = v;
  z[0] = -1;
  EXPECT_FALSE(SeriesProfile::Fit(z, 12).multiplicative);
  auto filled = InterpolateMissing(std::vector<double>{NAN, 1, NAN, 3, NAN});
  ASSERT_TRUE(filled.ok());
  EXPECT_EQ(*filled, (std::vector<double>{1, 1, 2, 3, 3}));
  EXPECT_EQ(InterpolateMissing(std::vector<double>{NAN, NAN}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(LstmTest, AutoTakesTheLstmAsAMemberWhenLoaded) {
  const forecast::ModelContext context = LstmContext(*model_);
  const std::vector<double> levels = {95};
  auto held_out = HeldOut(kDataSeed + 3, 1);
  forecast::Series s = held_out[0].fit;
  s.seasonal_periods = {kPeriod};
  auto with = forecast::MakeForecaster("auto", context).value();
  auto without = forecast::MakeForecaster("auto").value();
  ASSERT_TRUE(with->Fit(s).ok());
  ASSERT_TRUE(without->Fit(s).ok());
  EXPECT_THAT(with->Summary().spec, HasSubstr("LSTM"));
  EXPECT_THAT(with->Summary().fallback, Not(HasSubstr("left out: lstm")));
  EXPECT_THAT(without->Summary().fallback, HasSubstr("left out: lstm (no trained model loaded)"));
  auto f = with->Predict(kHorizon, levels);
  ASSERT_TRUE(f.ok());
  EXPECT_NE(f->mean, without->Predict(kHorizon, levels)->mean);
  // Saved with the LSTM member: loads with the model, bit-identical; without it, a clear error.
  const std::string bytes = with->Serialize();
  auto loaded = forecast::Forecaster::Load(bytes, context);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->Predict(kHorizon, levels)->mean, f->mean);
  auto orphan = forecast::Forecaster::Load(bytes);
  EXPECT_EQ(orphan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(orphan.status().message()), HasSubstr("tidegate train"));
  // A series shorter than the LSTM's window: the classical members only, stated.
  forecast::Series short_series = s;
  short_series.values.resize(static_cast<size_t>(SmallOptions().window() - 1));
  ASSERT_TRUE(with->Fit(short_series).ok());
  EXPECT_THAT(with->Summary().fallback, HasSubstr("classical members only, left out: lstm"));
  EXPECT_THAT(with->Summary().fallback, HasSubstr("input window"));
  EXPECT_TRUE(with->Predict(kHorizon, levels).ok());
}

}  // namespace
}  // namespace tidegate::learn
