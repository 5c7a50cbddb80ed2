// NetTrainer::Create: loads the libtorch module (trainer_torch.cc) once and asks it for a trainer.
#include "learn/trainer.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

namespace tidegate::learn {
namespace {

using CreateFn = NetTrainer* (*)(const Weights&, const LstmOptions&, int, std::string*);

struct Module {
  CreateFn create = nullptr;
  std::string error;  // Why it could not be loaded, when create is null.
};

// Where to look, in order: next to the running executable (an installed layout), then the build
// tree's copy (TIDEGATE_TORCH_MODULE, set by src/learn/CMakeLists.txt).
std::vector<std::string> Candidates() {
  std::vector<std::string> paths;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) paths.push_back((exe.parent_path() / kTrainerModuleName).string());
#ifdef TIDEGATE_TORCH_MODULE
  paths.emplace_back(TIDEGATE_TORCH_MODULE);
#endif
  return paths;
}

Module Load(const std::vector<std::string>& candidates) {
  Module m;
  std::vector<std::string> tried;  // "path (why not)".
  for (const std::string& path : candidates) {
    if (access(path.c_str(), R_OK) != 0) {
      tried.push_back(fmt::format("{} (not found)", path));
      continue;
    }
    // Never closed: libtorch registers global state on load.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      tried.push_back(fmt::format("{} ({})", path, why ? why : "dlopen failed"));
      continue;
    }
    m.create = reinterpret_cast<CreateFn>(dlsym(handle, kTrainerModuleEntry));
    if (m.create != nullptr) return m;
    tried.push_back(fmt::format("{} (no symbol {})", path, kTrainerModuleEntry));
  }
  m.error = fmt::format("LSTM training needs the libtorch module {}; tried: {}", kTrainerModuleName,
                        tried.empty() ? "no location" : fmt::format("{}", fmt::join(tried, "; ")));
  return m;
}

}  // namespace

absl::Status ProbeTrainerModule(const std::vector<std::string>& candidates) {
  const Module m = Load(candidates);
  return m.create != nullptr ? absl::OkStatus() : absl::FailedPreconditionError(m.error);
}

absl::StatusOr<std::unique_ptr<NetTrainer>> NetTrainer::Create(const Weights& init,
                                                               const LstmOptions& options,
                                                               int threads) {
  static const Module module = Load(Candidates());
  if (module.create == nullptr) return absl::FailedPreconditionError(module.error);
  std::string error;
  std::unique_ptr<NetTrainer> trainer(module.create(init, options, threads, &error));
  if (trainer == nullptr) return absl::InternalError(error);
  return trainer;
}

}  // namespace tidegate::learn
