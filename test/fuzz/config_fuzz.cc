// libFuzzer target: random text is parsed as a tidegate configuration file.
//
// Properties: nothing crashes or trips a sanitizer; every failure is InvalidArgument and its
// message names the file (operators find the error from the message alone); a document that
// parses is accepted by Service::ApplyConfig (the parser's validation is the whole validation, so
// a config that loads is never refused by a reload).
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "tidegate/common/clock.h"
#include "tidegate/history/sqlite_store.h"
#include "tidegate/server/config.h"
#include "tidegate/server/service.h"

namespace {

void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

struct Fixture {
  tidegate::SimulatedClock clock;
  std::unique_ptr<tidegate::server::Service> service;

  Fixture() {
    char dir[] = "/tmp/config_fuzz-XXXXXX";
    if (mkdtemp(dir) == nullptr) Fail("mkdtemp", dir);
    auto store = tidegate::history::SqliteStore::Open(dir);
    if (!store.ok()) Fail("store", store.status().ToString());
    tidegate::server::ServiceOptions options;
    options.config = tidegate::server::EmptyConfig();
    options.store = *std::move(store);
    auto created = tidegate::server::Service::Create(std::move(options), clock);
    if (!created.ok()) Fail("service", created.status().ToString());
    service = *std::move(created);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<tidegate::server::Config> config =
      tidegate::server::ParseConfig(text, "fuzz.yaml");
  if (!config.ok()) {
    if (config.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail("error is not InvalidArgument", config.status().ToString());
    }
    if (config.status().message().find("fuzz.yaml") == std::string_view::npos) {
      Fail("error does not name the file", config.status().ToString());
    }
    return 0;
  }
  static Fixture* fixture = new Fixture();  // One daemon core, reloaded with every config.
  const absl::Status applied = fixture->service->ApplyConfig(*std::move(config));
  if (!applied.ok()) Fail("a parsed config was refused by a reload", applied.ToString());
  return 0;
}
