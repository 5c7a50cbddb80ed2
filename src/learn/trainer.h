// learn/trainer.h — minibatch training of the LSTM network; the only libtorch user.
//
// The implementation (trainer_torch.cc) copies Weights into a torch::nn::LSTM + Linear, runs Adam
// on the pinball loss and copies the weights back out. Everything else in tidegate works on
// Weights and never includes torch headers.
//
// trainer_torch.cc is built as a module, libtidegate_learn_torch.so, that Create loads (dlopen)
// the first time a trainer is needed: libtorch and the libraries it pulls in cost ~160 MB of
// resident memory and seconds of start-up in every process that maps them, and most runs of
// tidegated and tidegate never train. Create looks for the module next to the running executable,
// then where the build put it; without it, training fails with FailedPrecondition (forecasting
// with a saved model needs no libtorch).
//
// Thread-safety: a NetTrainer is used by one thread. Create sets torch's intra-op thread count
// (process-wide).
#ifndef TIDEGATE_SRC_LEARN_TRAINER_H_
#define TIDEGATE_SRC_LEARN_TRAINER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "learn/network.h"

namespace tidegate::learn {

// A minibatch: `size` windows. patches: size × K × (P + 4); extra: size × (P + 4);
// targets: size × horizon (normalised).
struct Batch {
  int size = 0;
  std::vector<float> patches, extra, targets;
  void Clear() {
    size = 0;
    patches.clear();
    extra.clear();
    targets.clear();
  }
};

class NetTrainer {
 public:
  virtual ~NetTrainer() = default;
  // Internal if libtorch fails (the message carries torch's); FailedPrecondition if the module
  // cannot be loaded.
  static absl::StatusOr<std::unique_ptr<NetTrainer>> Create(const Weights& init,
                                                            const LstmOptions& options,
                                                            int threads);
  // One Adam step at learning rate `lr` with gradient-norm clipping; returns the batch's
  // pinball loss before the step.
  virtual absl::StatusOr<double> Step(const Batch& batch, double lr, double clip_norm) = 0;
  // The batch's pinball loss, without gradients.
  virtual absl::StatusOr<double> Loss(const Batch& batch) = 0;
  // The current weights.
  virtual Weights Get() const = 0;
};

// The module's entry point, by name: NetTrainer* (const Weights&, const LstmOptions&, int threads,
// std::string* error) — a trainer, or null with `error` set.
inline constexpr char kTrainerModuleEntry[] = "tidegate_learn_torch_create_v1";
inline constexpr char kTrainerModuleName[] = "libtidegate_learn_torch.so";

// Tries `candidates` (paths of the module) in order, as Create does with its own locations: OK
// when one loads and has the entry point, else FailedPrecondition naming every path and why it
// failed (not found, dlopen's error, no entry point) — the message Create returns.
absl::Status ProbeTrainerModule(const std::vector<std::string>& candidates);

}  // namespace tidegate::learn

#endif  // TIDEGATE_SRC_LEARN_TRAINER_H_
