// learn/network.h — the LSTM network's weights and its plain C++ forward pass (no libtorch).
//
// Layout (the same as torch::nn::LSTM, so that the trainer can copy weights in and out):
//   layer l: w_ih [4H × in_l], w_hh [4H × H], b_ih [4H], b_hh [4H], gate rows ordered i, f, g, o;
//            in_0 = P + 4 (a patch plus its calendar), in_l = H above;
//   head:    w [O × (H + P + 4)], b [O], O = horizon × quantiles, row k·Q + q = step k, quantile q.
// All row-major float.
//
// Thread-safety: Weights is a value; Forward is const and reentrant.
#ifndef TIDEGATE_SRC_LEARN_NETWORK_H_
#define TIDEGATE_SRC_LEARN_NETWORK_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tidegate/forecast/serialize.h"
#include "tidegate/learn/lstm.h"

namespace tidegate::learn {

inline constexpr int kCalendarFeatures = 4;  // sin/cos hour of day, sin/cos day of week.

struct LayerWeights {
  std::vector<float> w_ih, w_hh, b_ih, b_hh;
};

struct LstmModel::Weights {
  int input = 0;    // P + 4.
  int hidden = 0;   // H.
  int head_in = 0;  // H + P + 4.
  int outputs = 0;  // horizon × quantiles.
  std::vector<LayerWeights> layers;
  std::vector<float> head_w, head_b;

  // Shapes from options, weights drawn U(−1/√fan, 1/√fan) from `seed` (forget-gate bias 1).
  static Weights Init(const LstmOptions& options, uint64_t seed);
  bool ShapeMatches(const LstmOptions& options) const;

  // Runs the network on one window: `patches` holds K rows of `input` floats, `extra` the head's
  // P + 4 extra inputs; writes `outputs` floats to `out`. `scratch` is reused between calls.
  void Forward(std::span<const float> patches, int k, std::span<const float> extra,
               std::span<float> out) const;

  void Write(forecast::ByteWriter& w) const;
  // False on truncation or a shape that contradicts `options`.
  bool Read(forecast::ByteReader& r, const LstmOptions& options);
};

using Weights = LstmModel::Weights;

}  // namespace tidegate::learn

#endif  // TIDEGATE_SRC_LEARN_NETWORK_H_
