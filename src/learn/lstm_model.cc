// The global LSTM model: options, training loop, serialisation.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>
#include <random>
#include <sstream>

#include "learn/network.h"
#include "learn/preprocess.h"
#include "learn/trainer.h"
#include "tidegate/common/status.h"
#include "tidegate/learn/lstm.h"

namespace tidegate::learn {
namespace {

constexpr std::string_view kMagic = "TGLSTM";
constexpr uint32_t kFormatVersion = 1;

uint64_t Fnv1a(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// Preprocesses every series; skips (counts) the ones too short for one window of `need` values.
absl::StatusOr<std::vector<PreparedSeries>> Prepare(std::span<const forecast::Series> series,
                                                    const LstmOptions& options, size_t need,
                                                    int* skipped) {
  std::vector<PreparedSeries> out;
  *skipped = 0;
  for (size_t i = 0; i < series.size(); ++i) {
    const forecast::Series& s = series[i];
    if (absl::Status st = forecast::ValidateSeries(s); !st.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("training series {}: {}", i, std::string(st.message())));
    }
    auto clean = InterpolateMissing(s.values);
    if (!clean.ok() || clean->size() < need) {
      ++*skipped;
      continue;
    }
    PreparedSeries p;
    p.profile = SeriesProfile::Fit(*clean, options.period);
    p.d.resize(clean->size());
    for (size_t t = 0; t < clean->size(); ++t) p.d[t] = p.profile.Deseasonalise((*clean)[t], t);
    p.start = s.start;
    p.step = s.step;
    out.push_back(std::move(p));
  }
  return out;
}

// Appends the window whose forecast origin is index `t` of `s` to `batch`.
void AddWindow(const PreparedSeries& s, size_t t, const LstmOptions& options, WindowInput* scratch,
               Batch* batch) {
  const size_t w = static_cast<size_t>(options.window());
  const size_t first = t - w;
  MakeWindow(std::span<const double>(s.d).subspan(first, w),
             s.start + s.step * static_cast<int64_t>(first), s.step, options, scratch);
  batch->patches.insert(batch->patches.end(), scratch->patches.begin(), scratch->patches.end());
  batch->extra.insert(batch->extra.end(), scratch->extra.begin(), scratch->extra.end());
  for (int k = 0; k < options.horizon; ++k)
    batch->targets.push_back(Normalise(s.d[t + k], *scratch));
  ++batch->size;
}

double LearningRate(const TrainOptions& t, int step) {
  if (step < t.warmup_steps) return t.learning_rate * (step + 1) / t.warmup_steps;
  const double span = std::max(1, t.steps - t.warmup_steps);
  const double progress = std::min(1.0, (step - t.warmup_steps) / span);
  const double floor = t.learning_rate / 20;
  return floor + 0.5 * (t.learning_rate - floor) * (1 + std::cos(std::numbers::pi * progress));
}

// Trains `init` on `series`; fills `summary`.
absl::StatusOr<Weights> RunTraining(std::span<const forecast::Series> series,
                                    const LstmOptions& options, const TrainOptions& train,
                                    const Weights& init, TrainSummary* summary) {
  const size_t w = static_cast<size_t>(options.window());
  const size_t h = static_cast<size_t>(options.horizon);
  const size_t hold = train.hold_out ? h : 0;
  int skipped = 0;
  TIDEGATE_ASSIGN_OR_RETURN(std::vector<PreparedSeries> prepared,
                            Prepare(series, options, w + h + hold, &skipped));
  if (prepared.empty()) {
    return absl::FailedPreconditionError(fmt::format(
        "no training series has the {} values one window needs (input {} + horizon {}{}); "
        "{} series given",
        w + h + hold, w, h, hold ? fmt::format(" + hold-out {}", hold) : "", series.size()));
  }
  // Every (series, origin) pair with the whole target inside the training part.
  std::vector<std::pair<uint32_t, uint32_t>> origins;
  for (size_t i = 0; i < prepared.size(); ++i) {
    const size_t n = prepared[i].d.size();
    for (size_t t = w; t + h + hold <= n; ++t) {
      origins.emplace_back(static_cast<uint32_t>(i), static_cast<uint32_t>(t));
    }
  }
  summary->series_used = static_cast<int>(prepared.size());
  summary->series_skipped = skipped;
  summary->windows = static_cast<int64_t>(origins.size());
  summary->steps = train.steps;
  summary->seed = train.seed;

  TIDEGATE_ASSIGN_OR_RETURN(auto trainer, NetTrainer::Create(init, options, train.threads));
  std::mt19937_64 rng(train.seed ^ 0x9e3779b97f4a7c15ull);
  std::uniform_int_distribution<size_t> pick(0, origins.size() - 1);
  Batch batch;
  WindowInput scratch;
  double tail_loss = 0, report_loss = 0;
  int tail_n = 0, report_n = 0;
  const int tail_from = train.steps - std::max(1, train.steps / 10);
  for (int step = 0; step < train.steps; ++step) {
    if (train.cancelled && train.cancelled()) {
      return absl::CancelledError(fmt::format("training cancelled at step {}", step));
    }
    batch.Clear();
    for (int b = 0; b < train.batch; ++b) {
      const auto [si, t] = origins[pick(rng)];
      AddWindow(prepared[si], t, options, &scratch, &batch);
    }
    TIDEGATE_ASSIGN_OR_RETURN(double loss,
                              trainer->Step(batch, LearningRate(train, step), train.clip_norm));
    if (!std::isfinite(loss)) {
      return absl::InternalError(fmt::format("training diverged at step {} (loss {})", step, loss));
    }
    if (step >= tail_from) {
      tail_loss += loss;
      ++tail_n;
    }
    report_loss += loss;
    ++report_n;
    if (train.progress && (step + 1) % train.progress_every == 0) {
      train.progress(step + 1, train.steps, report_loss / report_n);
      report_loss = 0;
      report_n = 0;
    }
  }
  summary->train_loss = tail_n ? tail_loss / tail_n : 0;
  // Validation: the last window of every series (held out when hold_out).
  batch.Clear();
  for (const PreparedSeries& s : prepared) AddWindow(s, s.d.size() - h, options, &scratch, &batch);
  TIDEGATE_ASSIGN_OR_RETURN(summary->validation_loss, trainer->Loss(batch));
  return trainer->Get();
}

}  // namespace

std::vector<double> DefaultQuantiles() {
  static constexpr double kLevels[] = {0.025, 0.1, 0.5, 0.9, 0.975};
  return std::vector<double>(std::begin(kLevels), std::end(kLevels));
}

absl::Status LstmOptions::Validate() const {
  auto bad = [](std::string_view field, auto value, std::string_view want) {
    return absl::InvalidArgumentError(
        fmt::format("lstm option {} = {} is invalid: {}", field, value, want));
  };
  if (period < 1 || period > 1000) return bad("period", period, "must be in [1, 1000]");
  if (patches < 1 || patches > 64) return bad("patches", patches, "must be in [1, 64]");
  if (horizon < 1 || horizon > 1000) return bad("horizon", horizon, "must be in [1, 1000]");
  if (hidden < 4 || hidden > 512) return bad("hidden", hidden, "must be in [4, 512]");
  if (layers < 1 || layers > 4) return bad("layers", layers, "must be in [1, 4]");
  if (quantiles.size() < 2 || quantiles.size() > 99) {
    return bad("quantiles", quantiles.size(), "need between 2 and 99 quantile levels");
  }
  for (size_t i = 0; i < quantiles.size(); ++i) {
    if (!(quantiles[i] > 0 && quantiles[i] < 1)) {
      return bad(fmt::format("quantiles[{}]", i), quantiles[i], "must be in (0, 1)");
    }
    if (i > 0 && !(quantiles[i] > quantiles[i - 1])) {
      return bad(fmt::format("quantiles[{}]", i), quantiles[i], "must be strictly increasing");
    }
  }
  return absl::OkStatus();
}

absl::Status TrainOptions::Validate() const {
  auto bad = [](std::string_view field, auto value, std::string_view want) {
    return absl::InvalidArgumentError(
        fmt::format("training option {} = {} is invalid: {}", field, value, want));
  };
  if (steps < 0) return bad("steps", steps, "must be >= 0");
  if (batch < 1 || batch > 65536) return bad("batch", batch, "must be in [1, 65536]");
  if (!(learning_rate > 0 && learning_rate < 1)) {
    return bad("learning_rate", learning_rate, "must be in (0, 1)");
  }
  if (warmup_steps < 0) return bad("warmup_steps", warmup_steps, "must be >= 0");
  if (!(clip_norm > 0) || !std::isfinite(clip_norm)) {
    return bad("clip_norm", clip_norm, "must be positive");
  }
  if (threads < 1 || threads > 256) return bad("threads", threads, "must be in [1, 256]");
  if (progress_every < 1) return bad("progress_every", progress_every, "must be >= 1");
  return absl::OkStatus();
}

std::string TrainSummary::ToString() const {
  return fmt::format(
      "lstm training: {} series ({} too short, skipped), {} windows, {} steps, seed {}\n"
      "  pinball loss (normalised): training {:.5f}, validation {:.5f}\n",
      series_used, series_skipped, windows, steps, seed, train_loss, validation_loss);
}

LstmModel::LstmModel(LstmOptions options, TrainSummary summary,
                     std::shared_ptr<const Weights> weights)
    : options_(std::move(options)), summary_(summary), weights_(std::move(weights)) {
  forecast::ByteWriter w;
  weights_->Write(w);
  fingerprint_ = fmt::format("{:016x}", Fnv1a(w.bytes()));
}

absl::StatusOr<std::shared_ptr<const LstmModel>> LstmModel::Train(
    std::span<const forecast::Series> series, const LstmOptions& options,
    const TrainOptions& train) {
  TIDEGATE_RETURN_IF_ERROR(options.Validate());
  TIDEGATE_RETURN_IF_ERROR(train.Validate());
  TrainSummary summary;
  TIDEGATE_ASSIGN_OR_RETURN(
      Weights w, RunTraining(series, options, train, Weights::Init(options, train.seed), &summary));
  return std::make_shared<const LstmModel>(options, summary,
                                           std::make_shared<const Weights>(std::move(w)));
}

absl::StatusOr<std::shared_ptr<const LstmModel>> LstmModel::FineTune(
    std::span<const forecast::Series> series, const TrainOptions& train) const {
  TIDEGATE_RETURN_IF_ERROR(train.Validate());
  TrainSummary summary;
  TIDEGATE_ASSIGN_OR_RETURN(Weights w, RunTraining(series, options_, train, *weights_, &summary));
  summary.steps += summary_.steps;
  return std::make_shared<const LstmModel>(options_, summary,
                                           std::make_shared<const Weights>(std::move(w)));
}

std::string LstmModel::Serialize() const {
  forecast::ByteWriter w;
  w.PutU32(kFormatVersion);
  w.PutI64(options_.period);
  w.PutI64(options_.patches);
  w.PutI64(options_.horizon);
  w.PutI64(options_.hidden);
  w.PutI64(options_.layers);
  w.PutDoubles(options_.quantiles);
  w.PutI64(summary_.series_used);
  w.PutI64(summary_.series_skipped);
  w.PutI64(summary_.windows);
  w.PutI64(summary_.steps);
  w.PutU64(summary_.seed);
  w.PutDouble(summary_.train_loss);
  w.PutDouble(summary_.validation_loss);
  weights_->Write(w);
  std::string out(kMagic);
  out += w.Release();
  forecast::ByteWriter sum;
  sum.PutU64(Fnv1a(out));
  return out + sum.Release();
}

absl::StatusOr<std::shared_ptr<const LstmModel>> LstmModel::Deserialize(std::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return absl::InvalidArgumentError("not a tidegate LSTM model (bad magic)");
  }
  if (bytes.size() < kMagic.size() + 4 + 8) {
    return absl::InvalidArgumentError("LSTM model truncated in its header");
  }
  forecast::ByteReader head(bytes.substr(kMagic.size(), 4));
  uint32_t version = 0;
  head.GetU32(&version);
  if (version != kFormatVersion) {
    return absl::InvalidArgumentError(fmt::format(
        "LSTM model has format version {}, this build reads version {}: retrain it (tidegate "
        "train)",
        version, kFormatVersion));
  }
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  forecast::ByteReader tail(bytes.substr(bytes.size() - 8));
  uint64_t checksum = 0;
  tail.GetU64(&checksum);
  if (checksum != Fnv1a(body)) {
    return absl::InvalidArgumentError(
        "LSTM model is corrupt or truncated (checksum mismatch): retrain it (tidegate train)");
  }
  forecast::ByteReader r(body.substr(kMagic.size() + 4));
  LstmOptions o;
  TrainSummary s;
  int64_t period, patches, horizon, hidden, layers, used, skipped, steps;
  if (!r.GetI64(&period) || !r.GetI64(&patches) || !r.GetI64(&horizon) || !r.GetI64(&hidden) ||
      !r.GetI64(&layers) || !r.GetDoubles(&o.quantiles) || !r.GetI64(&used) ||
      !r.GetI64(&skipped) || !r.GetI64(&s.windows) || !r.GetI64(&steps) || !r.GetU64(&s.seed) ||
      !r.GetDouble(&s.train_loss) || !r.GetDouble(&s.validation_loss)) {
    return absl::InvalidArgumentError("LSTM model truncated in its options");
  }
  auto narrow = [](int64_t v) { return static_cast<int>(std::clamp<int64_t>(v, -1, 1'000'000)); };
  o.period = narrow(period);
  o.patches = narrow(patches);
  o.horizon = narrow(horizon);
  o.hidden = narrow(hidden);
  o.layers = narrow(layers);
  s.series_used = narrow(used);
  s.series_skipped = narrow(skipped);
  s.steps = narrow(steps);
  if (absl::Status st = o.Validate(); !st.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("LSTM model has a bad shape: {}", std::string(st.message())));
  }
  auto weights = std::make_shared<Weights>();
  if (!weights->Read(r, o) || !r.AtEnd()) {
    return absl::InvalidArgumentError(
        "LSTM model weights do not match its shape (truncated, non-finite or trailing bytes)");
  }
  return std::make_shared<const LstmModel>(o, s, std::move(weights));
}

absl::Status LstmModel::SaveFile(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return absl::PermissionDeniedError(fmt::format("cannot write '{}'", tmp));
    const std::string bytes = Serialize();
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) return absl::DataLossError(fmt::format("error writing '{}'", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::PermissionDeniedError(fmt::format("cannot rename '{}' to '{}'", tmp, path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const LstmModel>> LstmModel::LoadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(fmt::format("cannot open LSTM model '{}'", path));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return absl::DataLossError(fmt::format("error reading '{}'", path));
  auto model = Deserialize(ss.str());
  if (!model.ok()) {
    return absl::Status(model.status().code(),
                        fmt::format("{}: {}", path, std::string(model.status().message())));
  }
  return model;
}

std::string LstmModel::Fingerprint() const { return fingerprint_; }

std::string LstmModel::Describe() const {
  return fmt::format("LSTM({}x{}, window {}x{}, horizon {}, {} quantiles; {} series, {} steps)",
                     options_.layers, options_.hidden, options_.patches, options_.period,
                     options_.horizon, options_.quantiles.size(), summary_.series_used,
                     summary_.steps);
}

forecast::ModelContext LstmContext(std::shared_ptr<const LstmModel> model) {
  forecast::ModelContext context;
  context.Add(std::move(model));
  return context;
}

}  // namespace tidegate::learn
