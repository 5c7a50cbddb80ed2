// test/history/history_store_contract.h — the behaviour every HistoryStore backend must show,
// as a value-parameterised GoogleTest suite. A backend's test instantiates it with a factory that
// returns a fresh, empty store:
//
//   #include "history/history_store_contract.h"
//   INSTANTIATE_TEST_SUITE_P(Sqlite, HistoryStoreContractTest,
//                            ::testing::Values(StoreFactory{"sqlite", MakeSqlite, {}}),
//                            StoreFactoryName);
//
// and links history_store_contract.cc. Capabilities switch off the checks a backend cannot meet
// by design (documented in its header), so a difference is explicit rather than silently untested.
//
// Timestamps in the suite are whole seconds (Prometheus stores milliseconds) within 2023.
#ifndef TIDEGATE_TEST_HISTORY_HISTORY_STORE_CONTRACT_H_
#define TIDEGATE_TEST_HISTORY_HISTORY_STORE_CONTRACT_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "tidegate/history/history_store.h"

namespace tidegate::history {

struct StoreCapabilities {
  // Append of a different value at an existing (series, timestamp) fails with AlreadyExists.
  bool rejects_conflicting_duplicates = true;
  // DeleteSeries removes the data (a scrape-fed Prometheus cannot).
  bool deletes = true;
};

struct StoreFactory {
  std::string name;
  // A fresh, empty store; called once per test.
  std::function<absl::StatusOr<std::unique_ptr<HistoryStore>>()> make;
  StoreCapabilities capabilities;
};

inline std::ostream& operator<<(std::ostream& os, const StoreFactory& f) { return os << f.name; }

inline std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& param_info) {
  return param_info.param.name;
}

class HistoryStoreContractTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;

  std::unique_ptr<HistoryStore> store_;
};

}  // namespace tidegate::history

#endif  // TIDEGATE_TEST_HISTORY_HISTORY_STORE_CONTRACT_H_
