// The per-series adapter over a shared LstmModel (forecast::Forecaster "lstm").
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>

#include "learn/network.h"
#include "learn/preprocess.h"
#include "tidegate/common/status.h"
#include "tidegate/forecast/model_registry.h"
#include "tidegate/learn/lstm.h"

namespace tidegate::learn {
namespace {

constexpr uint32_t kStateVersion = 1;
constexpr std::string_view kFallbackModel = "snaive";

// The value at probability p of the step's quantile function, given sorted quantile values `q`
// at normal scores `z`: linear in z between knots, extended along the outer segments.
double QuantileAt(std::span<const double> z, std::span<const double> q, double zp) {
  const size_t n = z.size();
  size_t hi = 1;
  if (zp > z[n - 1]) {
    hi = n - 1;
  } else {
    while (hi < n - 1 && z[hi] < zp) ++hi;
  }
  const size_t lo = hi - 1;
  const double slope = (q[hi] - q[lo]) / (z[hi] - z[lo]);
  return q[lo] + (zp - z[lo]) * slope;
}

class LstmForecaster final : public forecast::Forecaster {
 public:
  explicit LstmForecaster(std::shared_ptr<const LstmModel> model) : model_(std::move(model)) {
    summary_.model = "lstm";
    for (double tau : model_->options().quantiles) z_.push_back(forecast::NormalQuantile(tau));
  }
  LstmForecaster(const LstmForecaster& other)
      : model_(other.model_),
        z_(other.z_),
        fitted_(other.fitted_),
        profile_(other.profile_),
        window_(other.window_),
        next_index_(other.next_index_),
        start_(other.start_),
        step_(other.step_),
        summary_(other.summary_),
        fallback_(other.fallback_ ? other.fallback_->Clone() : nullptr) {}

  std::string_view Name() const override { return "lstm"; }

  absl::Status Fit(const forecast::Series& series) override {
    TIDEGATE_RETURN_IF_ERROR(forecast::ValidateSeries(series));
    auto clean = InterpolateMissing(series.values);
    if (!clean.ok()) {
      return absl::FailedPreconditionError("lstm: the series has no observed value");
    }
    Reset();
    const LstmOptions& o = model_->options();
    const size_t w = static_cast<size_t>(o.window());
    int64_t observed = 0;
    for (double v : series.values) observed += std::isnan(v) ? 0 : 1;
    if (clean->size() < w) {
      // Too short for one input window: a classical model serves the series instead.
      TIDEGATE_ASSIGN_OR_RETURN(fallback_, forecast::MakeForecaster(kFallbackModel));
      forecast::Series s = series;
      if (s.seasonal_periods.empty() && o.period >= 2) s.seasonal_periods = {o.period};
      TIDEGATE_RETURN_IF_ERROR(fallback_->Fit(s));
      summary_ = fallback_->Summary();
      summary_.model = "lstm";
      summary_.fallback = fmt::format(
          "series has {} values, the LSTM needs an input window of {}: fitted {} instead{}",
          clean->size(), w, kFallbackModel,
          summary_.fallback.empty() ? "" : " (" + summary_.fallback + ")");
      fitted_ = true;
      return absl::OkStatus();
    }
    profile_ = SeriesProfile::Fit(*clean, o.period);
    window_.assign(clean->end() - static_cast<std::ptrdiff_t>(w), clean->end());
    next_index_ = static_cast<int64_t>(clean->size());
    start_ = series.start;
    step_ = series.step;
    summary_.spec = model_->Describe();
    summary_.n_obs = observed;
    summary_.params["multiplicative_season"] = profile_.multiplicative ? 1 : 0;
    fitted_ = true;
    return absl::OkStatus();
  }

  absl::StatusOr<forecast::Forecast> Predict(int h, std::span<const double> levels) const override {
    if (!fitted_) return absl::FailedPreconditionError("lstm: Predict before Fit");
    TIDEGATE_RETURN_IF_ERROR(forecast::ValidatePredictArgs(h, levels));
    if (fallback_) return fallback_->Predict(h, levels);
    const LstmOptions& o = model_->options();
    const size_t w = static_cast<size_t>(o.window());
    const size_t nq = o.quantiles.size();
    std::vector<double> raw(window_.begin(), window_.end());  // Grows with the median path.
    int64_t origin = next_index_;                             // Series index of the next step.
    std::vector<std::vector<double>> quantiles;               // Per step, sorted.
    quantiles.reserve(h);
    std::vector<double> d(w);
    std::vector<float> out(static_cast<size_t>(o.horizon) * nq);
    WindowInput input;
    while (static_cast<int>(quantiles.size()) < h) {
      const int64_t first = origin - static_cast<int64_t>(w);
      for (size_t i = 0; i < w; ++i) {
        d[i] = profile_.Deseasonalise(raw[raw.size() - w + i], first + static_cast<int64_t>(i));
      }
      MakeWindow(d, start_ + step_ * first, step_, o, &input);
      model_->weights().Forward(input.patches, o.patches, input.extra, out);
      const int block = std::min<int>(o.horizon, h - static_cast<int>(quantiles.size()));
      for (int k = 0; k < block; ++k) {
        std::vector<double> q(nq);
        for (size_t j = 0; j < nq; ++j) {
          const double x = std::clamp<double>(out[k * nq + j], -kClip, kClip);
          q[j] = profile_.Reseasonalise(input.level + input.scale * x, origin + k);
        }
        std::sort(q.begin(), q.end());  // Monotone rearrangement of crossing quantiles.
        quantiles.push_back(std::move(q));
      }
      // Beyond the trained horizon: continue from the median path.
      for (int k = 0; k < block; ++k) {
        raw.push_back(QuantileAt(z_, quantiles[quantiles.size() - block + k], 0.0));
      }
      origin += block;
    }
    forecast::Forecast f;
    f.mean.resize(h);
    for (int i = 0; i < h; ++i) f.mean[i] = QuantileAt(z_, quantiles[i], 0.0);
    for (double level : levels) {
      forecast::PredictionInterval pi;
      pi.level = level;
      const double zl = forecast::NormalQuantile((1 - level / 100) / 2);
      pi.lower.resize(h);
      pi.upper.resize(h);
      for (int i = 0; i < h; ++i) {
        pi.lower[i] = std::min(f.mean[i], QuantileAt(z_, quantiles[i], zl));
        pi.upper[i] = std::max(f.mean[i], QuantileAt(z_, quantiles[i], -zl));
        if (profile_.nonnegative) pi.lower[i] = std::max(0.0, pi.lower[i]);
      }
      f.intervals.push_back(std::move(pi));
    }
    return f;
  }

  absl::Status Update(double y) override {
    if (!fitted_) return absl::FailedPreconditionError("lstm: Update before Fit");
    if (std::isinf(y)) return absl::InvalidArgumentError(fmt::format("lstm: Update with {}", y));
    if (fallback_) return fallback_->Update(y);
    if (std::isnan(y)) {
      // Missing: carry the deseasonalised last value forward into this step's phase.
      y = profile_.Reseasonalise(profile_.Deseasonalise(window_.back(), next_index_ - 1),
                                 next_index_);
    } else {
      ++summary_.n_obs;
    }
    window_.pop_front();
    window_.push_back(y);
    ++next_index_;
    return absl::OkStatus();
  }

  forecast::FitSummary Summary() const override { return summary_; }

  std::unique_ptr<forecast::Forecaster> Clone() const override {
    return std::make_unique<LstmForecaster>(*this);
  }

  std::string SaveState() const override {
    forecast::ByteWriter w;
    w.PutU32(kStateVersion);
    w.PutString(model_->Fingerprint());
    w.PutU32(fitted_ ? 1 : 0);
    w.PutU32(fallback_ ? 1 : 0);
    if (fallback_) {
      w.PutString(fallback_->Serialize());
      w.PutString(summary_.fallback);
    } else if (fitted_) {
      profile_.Write(w);
      w.PutDoubles(std::vector<double>(window_.begin(), window_.end()));
      w.PutI64(next_index_);
      w.PutI64(start_.time_since_epoch().count());
      w.PutI64(step_.count());
      w.PutI64(summary_.n_obs);
    }
    return w.Release();
  }

  absl::Status LoadState(std::string_view bytes) override {
    Reset();
    absl::Status st = Decode(bytes);
    if (!st.ok()) Reset();
    return st;
  }

 private:
  void Reset() {
    fitted_ = false;
    fallback_.reset();
    window_.clear();
    next_index_ = 0;
    summary_ = forecast::FitSummary{};
    summary_.model = "lstm";
  }

  absl::Status Decode(std::string_view bytes) {
    auto bad = [](std::string_view what) {
      return absl::InvalidArgumentError(fmt::format("lstm state: {}", what));
    };
    forecast::ByteReader r(bytes);
    uint32_t version = 0, fitted = 0, fallback = 0;
    std::string fingerprint;
    if (!r.GetU32(&version)) return bad("truncated");
    if (version != kStateVersion) {
      return bad(fmt::format("version {}, this build reads {}", version, kStateVersion));
    }
    if (!r.GetString(&fingerprint) || !r.GetU32(&fitted) || !r.GetU32(&fallback)) {
      return bad("truncated");
    }
    if (fingerprint != model_->Fingerprint()) {
      return bad(fmt::format("saved against LSTM weights {}, the loaded model is {}", fingerprint,
                             model_->Fingerprint()));
    }
    if (fitted == 0) return r.AtEnd() ? absl::OkStatus() : bad("trailing bytes");
    if (fallback == 1) {
      std::string inner, note;
      if (!r.GetString(&inner) || !r.GetString(&note) || !r.AtEnd()) return bad("truncated");
      TIDEGATE_ASSIGN_OR_RETURN(fallback_, forecast::Forecaster::Load(inner));
      summary_ = fallback_->Summary();
      summary_.model = "lstm";
      summary_.fallback = note;
      fitted_ = true;
      return absl::OkStatus();
    }
    const LstmOptions& o = model_->options();
    std::vector<double> window;
    int64_t start_ns = 0, step_ns = 0;
    if (!profile_.Read(r, o.period) || !r.GetDoubles(&window) || !r.GetI64(&next_index_) ||
        !r.GetI64(&start_ns) || !r.GetI64(&step_ns) || !r.GetI64(&summary_.n_obs) || !r.AtEnd()) {
      return bad("truncated or malformed");
    }
    if (window.size() != static_cast<size_t>(o.window()) || step_ns <= 0 ||
        next_index_ < static_cast<int64_t>(window.size())) {
      return bad("window does not match the model");
    }
    for (double v : window) {
      if (!std::isfinite(v)) return bad("non-finite value in the window");
    }
    window_.assign(window.begin(), window.end());
    start_ = WallTime(Duration(start_ns));
    step_ = Duration(step_ns);
    summary_.spec = model_->Describe();
    summary_.params["multiplicative_season"] = profile_.multiplicative ? 1 : 0;
    fitted_ = true;
    return absl::OkStatus();
  }

  std::shared_ptr<const LstmModel> model_;
  std::vector<double> z_;  // Normal scores of the model's quantile levels.
  bool fitted_ = false;
  SeriesProfile profile_;
  std::deque<double> window_;  // Last K·P values (missing ones imputed).
  int64_t next_index_ = 0;     // Series index of the next observation.
  WallTime start_{};
  Duration step_{std::chrono::hours(1)};
  forecast::FitSummary summary_;
  std::unique_ptr<forecast::Forecaster> fallback_;  // Set when the series is too short.
};

}  // namespace

std::unique_ptr<forecast::Forecaster> LstmModel::NewForecaster() const {
  return std::make_unique<LstmForecaster>(
      std::static_pointer_cast<const LstmModel>(shared_from_this()));
}

}  // namespace tidegate::learn
