// tidegate/workload/usage_jsonl.h — writes usage reports as the JSON-lines usage log that
// `tidegate import` reads (docs/formats/usage-logs.md). The generator is the log's producer in
// tidegate; history/import.h is its consumer, and a round-trip test keeps the two in step.
//
// Thread-safety: pure function.
#ifndef TIDEGATE_WORKLOAD_USAGE_JSONL_H_
#define TIDEGATE_WORKLOAD_USAGE_JSONL_H_

#include <string>

#include "tidegate/history/usage.h"

namespace tidegate::workload {

// One line, without the newline: timestamp in RFC 3339 UTC with nanoseconds,
// descriptors as an array of [key, value] pairs (order kept), zero amounts and empty strings
// omitted.
std::string FormatUsageJsonLine(const history::UsageReport& report);

}  // namespace tidegate::workload

#endif  // TIDEGATE_WORKLOAD_USAGE_JSONL_H_
