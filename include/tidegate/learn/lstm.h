// tidegate/learn/lstm.h — the global LSTM forecaster: one network trained across many series.
//
// A LstmModel is trained once on a collection of series (Train), then serves every series through
// a per-series Forecaster adapter (NewForecaster, or MakeForecaster("lstm", context) with the
// model in a forecast::ModelContext). The adapter keeps only that series' normalisation and its
// last input window; the weights are shared read-only. docs/design/learning.md has the math.
//
// Algorithm (ES-RNN-style hybrid, Smyl 2020, with a window-level affine normalisation):
//   * Per series: missing values are interpolated; seasonal indices s_j (j = phase modulo the
//     period P) come from a classical decomposition of the last ≤ 28 periods — multiplicative
//     when every value is > 0, additive otherwise — and deseasonalise: d_t = y_t / s_j (or y_t −
//     s_j).
//   * Per window ending before t: level L = mean of the last P values of d, scale S = mean |d| over
//     the window; inputs and targets are x = (d − L) / S (clipped to ±20).
//   * Network: the window of K·P steps is read as K patches of P values plus the calendar (sin/cos
//     of hour of day and day of week) of each patch; an LSTM (1–4 layers) runs over the patches;
//     a linear head over [last hidden state, last patch, calendar of the origin] outputs H × Q
//     normalised quantiles, trained with the pinball loss and sorted at inference.
//   * Forecast = the 0.5 quantile (interpolated when 0.5 is not among the quantiles); an interval
//     at level ℓ interpolates the quantiles in normal-score space and extrapolates beyond the
//     outermost ones along the outer segment. Beyond the trained horizon H the median path is fed
//     back (intervals there are conditional on it and too narrow).
//   * Training: Adam with linear warm-up and cosine decay, gradient-norm clipping, minibatches of
//     (series, origin) pairs drawn uniformly by a seeded generator; the last H values of every
//     series are held out to report a validation loss. Only the trainer uses libtorch; inference
//     is plain C++ over the stored weights (no libtorch call on the forecasting path).
//
// Determinism: the same series, options and seed give bit-identical weights (libtorch runs with
// `threads` intra-op threads, default 1; another thread count may change the last bits).
//
// Thread-safety: a LstmModel is immutable after Train/Load; every const method may run
// concurrently. FineTune returns a new model and leaves this one untouched. Training calls
// torch::set_num_threads (process-wide).
#ifndef TIDEGATE_LEARN_LSTM_H_
#define TIDEGATE_LEARN_LSTM_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/forecast/forecaster.h"
#include "tidegate/forecast/global_model.h"

namespace tidegate::learn {

// 0.025, 0.1, 0.5, 0.9, 0.975: the median and the 80 % and 95 % central intervals.
std::vector<double> DefaultQuantiles();

// The network's shape; fixed at training and stored with the model.
struct LstmOptions {
  int period = 24;   // P: seasonal period in steps, also the patch length.
  int patches = 7;   // K: input window = K·P steps (7 days of hourly data).
  int horizon = 48;  // H: steps forecast by one pass.
  int hidden = 48;   // LSTM hidden units, in [4, 512].
  int layers = 1;    // LSTM layers, in [1, 4].
  // Strictly increasing, in (0, 1). Default: 0.025, 0.1, 0.5, 0.9, 0.975.
  std::vector<double> quantiles = DefaultQuantiles();

  int window() const { return period * patches; }
  // OK, or InvalidArgument naming the field and its value.
  absl::Status Validate() const;
};

// How to train (not stored with the model except the seed and step count, for the record).
struct TrainOptions {
  int steps = 3000;             // Minibatch updates.
  int batch = 256;              // Windows per minibatch.
  double learning_rate = 3e-3;  // Peak Adam step size.
  int warmup_steps = 100;       // Linear warm-up before the cosine decay (to learning_rate / 20).
  double clip_norm = 1.0;       // Gradient-norm clipping.
  uint64_t seed = 1;            // Weight initialisation and minibatch sampling.
  int threads = 1;              // libtorch intra-op threads.
  bool hold_out = true;         // Keep the last H values of each series out of training.
  // Called every `progress_every` steps with (step, steps, mean training loss since last call).
  std::function<void(int, int, double)> progress;
  int progress_every = 100;
  // Polled before every step; when it returns true, Train/FineTune stop and return Cancelled (a
  // daemon shutting down does not wait for a training round to end). Null: never cancelled.
  std::function<bool()> cancelled;

  absl::Status Validate() const;
};

// What training did.
struct TrainSummary {
  int series_used = 0;
  int series_skipped = 0;  // Shorter than the window plus the horizon (plus the hold-out).
  int64_t windows = 0;     // Training (series, origin) pairs.
  int steps = 0;
  uint64_t seed = 0;
  double train_loss = 0;       // Mean pinball loss of the last 10 % of steps (normalised scale).
  double validation_loss = 0;  // Pinball loss on the held-out last window of each series.

  std::string ToString() const;
};

class LstmModel final : public forecast::GlobalModel {
 public:
  // Trains a new model on `series` (each regularly spaced; NaN = missing; seasonal_periods are
  // ignored: the model uses options.period). InvalidArgument for bad options or an unusable
  // series (naming its index); FailedPrecondition when no series is long enough for one training
  // window (K·P + H values, + H with hold_out); Internal if libtorch fails; Cancelled when
  // train.cancelled said so.
  static absl::StatusOr<std::shared_ptr<const LstmModel>> Train(
      std::span<const forecast::Series> series, const LstmOptions& options,
      const TrainOptions& train);

  // Continues training a copy of this model for train.steps steps on recent data (typically the
  // last few weeks of the series that drifted; train.learning_rate is usually lower, e.g. 3e-4).
  // Same errors as Train. This model is unchanged.
  absl::StatusOr<std::shared_ptr<const LstmModel>> FineTune(
      std::span<const forecast::Series> series, const TrainOptions& train) const;

  // Bytes: "TGLSTM" magic, format version, shape, training record, weights, FNV-1a checksum.
  std::string Serialize() const;
  // InvalidArgument for bad magic, another format version, a shape out of range, truncation,
  // trailing bytes or a checksum mismatch (the message says which).
  static absl::StatusOr<std::shared_ptr<const LstmModel>> Deserialize(std::string_view bytes);
  // File wrappers: NotFound/PermissionDenied/DataLoss for I/O errors, plus Deserialize's errors
  // with the path in the message.
  absl::Status SaveFile(const std::string& path) const;
  static absl::StatusOr<std::shared_ptr<const LstmModel>> LoadFile(const std::string& path);

  const LstmOptions& options() const { return options_; }
  const TrainSummary& summary() const { return summary_; }

  // forecast::GlobalModel
  std::string_view Name() const override { return "lstm"; }
  std::string Fingerprint() const override;
  std::string Describe() const override;
  std::unique_ptr<forecast::Forecaster> NewForecaster() const override;

  // Implementation detail shared with the adapter (src/learn/); opaque to users.
  struct Weights;
  const Weights& weights() const { return *weights_; }

  LstmModel(LstmOptions options, TrainSummary summary, std::shared_ptr<const Weights> weights);

 private:
  LstmOptions options_;
  TrainSummary summary_;
  std::shared_ptr<const Weights> weights_;
  std::string fingerprint_;
};

// A ModelContext holding `model` under "lstm", for forecast::MakeForecaster / backtests.
forecast::ModelContext LstmContext(std::shared_ptr<const LstmModel> model);

}  // namespace tidegate::learn

#endif  // TIDEGATE_LEARN_LSTM_H_
