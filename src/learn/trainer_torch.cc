// The one translation unit that includes libtorch (it compiles slowly; keep it small). It is built
// as its own module, libtidegate_learn_torch.so, which trainer.cc loads on the first training, so
// that a process that never trains maps neither libtorch nor its dependencies.
#include <fmt/format.h>
#include <torch/torch.h>

#include <exception>

#include "learn/trainer.h"

namespace tidegate::learn {
namespace {

torch::Tensor FromVector(const std::vector<float>& v, torch::IntArrayRef shape) {
  return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32).clone();
}

std::vector<float> ToVector(const torch::Tensor& t) {
  torch::Tensor c = t.detach().contiguous().to(torch::kFloat32);
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

class TorchTrainer final : public NetTrainer {
 public:
  TorchTrainer(const Weights& init, const LstmOptions& options)
      : options_(options),
        lstm_(torch::nn::LSTMOptions(init.input, init.hidden)
                  .num_layers(options.layers)
                  .batch_first(true)),
        head_(torch::nn::LinearOptions(init.head_in, init.outputs)),
        taus_(torch::tensor(std::vector<float>(options.quantiles.begin(), options.quantiles.end()))
                  .view({1, 1, -1})) {
    SetWeights(init);
    std::vector<torch::Tensor> params = lstm_->parameters();
    for (auto& p : head_->parameters()) params.push_back(p);
    optimizer_ = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(1e-3));
    shape_ = init;
  }

  absl::StatusOr<double> Step(const Batch& batch, double lr, double clip_norm) override {
    try {
      for (auto& group : optimizer_->param_groups()) {
        static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
      }
      optimizer_->zero_grad();
      torch::Tensor loss = PinballLoss(batch);
      loss.backward();
      std::vector<torch::Tensor> params = lstm_->parameters();
      for (auto& p : head_->parameters()) params.push_back(p);
      torch::nn::utils::clip_grad_norm_(params, clip_norm);
      optimizer_->step();
      return loss.item<double>();
    } catch (const std::exception& e) {
      return absl::InternalError(fmt::format("libtorch training step failed: {}", e.what()));
    }
  }

  absl::StatusOr<double> Loss(const Batch& batch) override {
    try {
      torch::NoGradGuard no_grad;
      return PinballLoss(batch).item<double>();
    } catch (const std::exception& e) {
      return absl::InternalError(fmt::format("libtorch forward failed: {}", e.what()));
    }
  }

  Weights Get() const override {
    Weights w = shape_;
    for (int l = 0; l < options_.layers; ++l) {
      LayerWeights& lw = w.layers[l];
      lw.w_ih = ToVector(Param(fmt::format("weight_ih_l{}", l)));
      lw.w_hh = ToVector(Param(fmt::format("weight_hh_l{}", l)));
      lw.b_ih = ToVector(Param(fmt::format("bias_ih_l{}", l)));
      lw.b_hh = ToVector(Param(fmt::format("bias_hh_l{}", l)));
    }
    w.head_w = ToVector(head_->weight);
    w.head_b = ToVector(head_->bias);
    return w;
  }

 private:
  torch::Tensor Param(const std::string& name) const { return lstm_->named_parameters()[name]; }

  void SetWeights(const Weights& w) {
    torch::NoGradGuard no_grad;
    const int64_t g = 4 * static_cast<int64_t>(w.hidden);
    for (int l = 0; l < options_.layers; ++l) {
      const LayerWeights& lw = w.layers[l];
      const int64_t in = l == 0 ? w.input : w.hidden;
      Param(fmt::format("weight_ih_l{}", l)).copy_(FromVector(lw.w_ih, {g, in}));
      Param(fmt::format("weight_hh_l{}", l)).copy_(FromVector(lw.w_hh, {g, w.hidden}));
      Param(fmt::format("bias_ih_l{}", l)).copy_(FromVector(lw.b_ih, {g}));
      Param(fmt::format("bias_hh_l{}", l)).copy_(FromVector(lw.b_hh, {g}));
    }
    head_->weight.copy_(FromVector(w.head_w, {w.outputs, w.head_in}));
    head_->bias.copy_(FromVector(w.head_b, {w.outputs}));
  }

  // Mean over batch, steps and quantiles of max(τ u, (τ − 1) u), u = target − prediction.
  torch::Tensor PinballLoss(const Batch& batch) {
    const int64_t b = batch.size;
    const int64_t k = options_.patches;
    const int64_t in = shape_.input;
    const int64_t q = static_cast<int64_t>(options_.quantiles.size());
    torch::Tensor x =
        torch::from_blob(const_cast<float*>(batch.patches.data()), {b, k, in}, torch::kFloat32);
    torch::Tensor extra = torch::from_blob(const_cast<float*>(batch.extra.data()),
                                           {b, shape_.head_in - shape_.hidden}, torch::kFloat32);
    torch::Tensor y = torch::from_blob(const_cast<float*>(batch.targets.data()),
                                       {b, options_.horizon, 1}, torch::kFloat32);
    torch::Tensor out = std::get<0>(lstm_->forward(x));
    torch::Tensor last = out.select(1, k - 1);
    torch::Tensor pred =
        head_->forward(torch::cat({last, extra}, 1)).view({b, options_.horizon, q});
    torch::Tensor u = y - pred;
    return torch::max(taus_ * u, (taus_ - 1) * u).mean();
  }

  LstmOptions options_;
  torch::nn::LSTM lstm_;
  torch::nn::Linear head_;
  torch::Tensor taus_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  Weights shape_;  // Shapes (and initial values) for Get().
};

}  // namespace

// The module's one entry point (trainer.h, kTrainerModuleEntry): a new trainer, or null with
// `error` set. Exceptions never cross the module boundary.
extern "C" __attribute__((visibility("default"))) NetTrainer* tidegate_learn_torch_create_v1(
    const Weights& init, const LstmOptions& options, int threads, std::string* error) {
  try {
    torch::set_num_threads(threads);
    return new TorchTrainer(init, options);
  } catch (const std::exception& e) {
    *error = fmt::format("libtorch could not build the network: {}", e.what());
    return nullptr;
  }
}

}  // namespace tidegate::learn
