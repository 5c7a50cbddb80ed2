#include "learn/network.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace tidegate::learn {
namespace {

void FillUniform(std::vector<float>& v, size_t n, double bound, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-bound, bound);
  v.resize(n);
  for (auto& x : v) x = static_cast<float>(u(rng));
}

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

bool ReadFloats(forecast::ByteReader& r, std::vector<float>* v, size_t expected) {
  std::vector<double> d;
  if (!r.GetDoubles(&d) || d.size() != expected) return false;
  v->resize(expected);
  for (size_t i = 0; i < expected; ++i) {
    if (!std::isfinite(d[i])) return false;
    (*v)[i] = static_cast<float>(d[i]);
  }
  return true;
}

void WriteFloats(forecast::ByteWriter& w, const std::vector<float>& v) {
  w.PutDoubles(std::vector<double>(v.begin(), v.end()));
}

}  // namespace

Weights Weights::Init(const LstmOptions& options, uint64_t seed) {
  Weights w;
  w.input = options.period + kCalendarFeatures;
  w.hidden = options.hidden;
  w.head_in = options.hidden + options.period + kCalendarFeatures;
  w.outputs = options.horizon * static_cast<int>(options.quantiles.size());
  std::mt19937_64 rng(seed);
  const double bound = 1.0 / std::sqrt(static_cast<double>(w.hidden));
  const size_t g = 4 * static_cast<size_t>(w.hidden);
  for (int l = 0; l < options.layers; ++l) {
    LayerWeights lw;
    const size_t in = l == 0 ? w.input : w.hidden;
    FillUniform(lw.w_ih, g * in, bound, rng);
    FillUniform(lw.w_hh, g * w.hidden, bound, rng);
    FillUniform(lw.b_ih, g, bound, rng);
    FillUniform(lw.b_hh, g, bound, rng);
    // A forget-gate bias of 1 keeps the cell state early in training (Jozefowicz et al. 2015).
    for (int i = 0; i < w.hidden; ++i) lw.b_ih[w.hidden + i] += 1.0f;
    w.layers.push_back(std::move(lw));
  }
  FillUniform(w.head_w, static_cast<size_t>(w.outputs) * w.head_in,
              1.0 / std::sqrt(static_cast<double>(w.head_in)), rng);
  FillUniform(w.head_b, w.outputs, 1.0 / std::sqrt(static_cast<double>(w.head_in)), rng);
  return w;
}

bool Weights::ShapeMatches(const LstmOptions& options) const {
  if (input != options.period + kCalendarFeatures || hidden != options.hidden ||
      head_in != options.hidden + options.period + kCalendarFeatures ||
      outputs != options.horizon * static_cast<int>(options.quantiles.size()) ||
      static_cast<int>(layers.size()) != options.layers) {
    return false;
  }
  const size_t g = 4 * static_cast<size_t>(hidden);
  for (size_t l = 0; l < layers.size(); ++l) {
    const size_t in = l == 0 ? input : hidden;
    if (layers[l].w_ih.size() != g * in || layers[l].w_hh.size() != g * hidden ||
        layers[l].b_ih.size() != g || layers[l].b_hh.size() != g) {
      return false;
    }
  }
  return head_w.size() == static_cast<size_t>(outputs) * head_in &&
         head_b.size() == static_cast<size_t>(outputs);
}

void Weights::Forward(std::span<const float> patches, int k, std::span<const float> extra,
                      std::span<float> out) const {
  const int hd = hidden;
  std::vector<float> seq(patches.begin(), patches.end());  // k rows of the current layer input.
  int in = input;
  std::vector<float> h(hd), c(hd), gates(4 * hd), next;
  for (const LayerWeights& lw : layers) {
    std::fill(h.begin(), h.end(), 0.0f);
    std::fill(c.begin(), c.end(), 0.0f);
    next.assign(static_cast<size_t>(k) * hd, 0.0f);
    for (int t = 0; t < k; ++t) {
      const float* x = seq.data() + static_cast<size_t>(t) * in;
      for (int r = 0; r < 4 * hd; ++r) {
        const float* wi = lw.w_ih.data() + static_cast<size_t>(r) * in;
        const float* wh = lw.w_hh.data() + static_cast<size_t>(r) * hd;
        float acc = lw.b_ih[r] + lw.b_hh[r];
        for (int j = 0; j < in; ++j) acc += wi[j] * x[j];
        for (int j = 0; j < hd; ++j) acc += wh[j] * h[j];
        gates[r] = acc;
      }
      for (int j = 0; j < hd; ++j) {
        const float ig = Sigmoid(gates[j]);
        const float fg = Sigmoid(gates[hd + j]);
        const float gg = std::tanh(gates[2 * hd + j]);
        const float og = Sigmoid(gates[3 * hd + j]);
        c[j] = fg * c[j] + ig * gg;
        h[j] = og * std::tanh(c[j]);
      }
      std::copy(h.begin(), h.end(), next.begin() + static_cast<size_t>(t) * hd);
    }
    seq.swap(next);
    in = hd;
  }
  for (int o = 0; o < outputs; ++o) {
    const float* w = head_w.data() + static_cast<size_t>(o) * head_in;
    float acc = head_b[o];
    for (int j = 0; j < hd; ++j) acc += w[j] * h[j];
    for (size_t j = 0; j < extra.size(); ++j) acc += w[hd + j] * extra[j];
    out[o] = acc;
  }
}

void Weights::Write(forecast::ByteWriter& w) const {
  w.PutU32(static_cast<uint32_t>(layers.size()));
  for (const LayerWeights& lw : layers) {
    WriteFloats(w, lw.w_ih);
    WriteFloats(w, lw.w_hh);
    WriteFloats(w, lw.b_ih);
    WriteFloats(w, lw.b_hh);
  }
  WriteFloats(w, head_w);
  WriteFloats(w, head_b);
}

bool Weights::Read(forecast::ByteReader& r, const LstmOptions& options) {
  input = options.period + kCalendarFeatures;
  hidden = options.hidden;
  head_in = options.hidden + options.period + kCalendarFeatures;
  outputs = options.horizon * static_cast<int>(options.quantiles.size());
  uint32_t n = 0;
  if (!r.GetU32(&n) || n != static_cast<uint32_t>(options.layers)) return false;
  const size_t g = 4 * static_cast<size_t>(hidden);
  layers.assign(n, {});
  for (uint32_t l = 0; l < n; ++l) {
    const size_t in = l == 0 ? input : hidden;
    if (!ReadFloats(r, &layers[l].w_ih, g * in) || !ReadFloats(r, &layers[l].w_hh, g * hidden) ||
        !ReadFloats(r, &layers[l].b_ih, g) || !ReadFloats(r, &layers[l].b_hh, g)) {
      return false;
    }
  }
  return ReadFloats(r, &head_w, static_cast<size_t>(outputs) * head_in) &&
         ReadFloats(r, &head_b, outputs);
}

}  // namespace tidegate::learn
