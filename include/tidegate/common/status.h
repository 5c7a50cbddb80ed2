// tidegate/common/status.h — error vocabulary shared by every tidegate library.
//
// tidegate reports errors with absl::Status / absl::StatusOr<T>; no exception crosses a public API.
// The two macros below propagate errors without boilerplate:
//
//   TIDEGATE_RETURN_IF_ERROR(store->Append(batch));
//   TIDEGATE_ASSIGN_OR_RETURN(auto model, Fit(series));
//
// Thread-safety: stateless.
#ifndef TIDEGATE_COMMON_STATUS_H_
#define TIDEGATE_COMMON_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TIDEGATE_STATUS_CONCAT_INNER_(a, b) a##b
#define TIDEGATE_STATUS_CONCAT_(a, b) TIDEGATE_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if it is not OK.
#define TIDEGATE_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::absl::Status tidegate_status_ = (expr);            \
    if (!tidegate_status_.ok()) return tidegate_status_; \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status, otherwise move-assigns
// the value to `lhs`, which may be a declaration (`auto x`).
#define TIDEGATE_ASSIGN_OR_RETURN(lhs, rexpr) \
  TIDEGATE_ASSIGN_OR_RETURN_IMPL_(TIDEGATE_STATUS_CONCAT_(tidegate_statusor_, __LINE__), lhs, rexpr)

#define TIDEGATE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                    \
  if (!statusor.ok()) return std::move(statusor).status();    \
  lhs = std::move(statusor).value()

#endif  // TIDEGATE_COMMON_STATUS_H_
