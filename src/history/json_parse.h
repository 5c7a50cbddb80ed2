// Parsing JSON from files and remote servers without exceptions escaping.
//
// nlohmann's parse(text, nullptr, /*allow_exceptions=*/false) still throws out_of_range for a
// number too large for a double (e.g. 1e999); these helpers turn every failure into a discarded
// value and a description.
#ifndef TIDEGATE_SRC_HISTORY_JSON_PARSE_H_
#define TIDEGATE_SRC_HISTORY_JSON_PARSE_H_

#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace tidegate::history {

// The parsed document, or a discarded value (is_discarded()) with *error (when non-null) set to
// nlohmann's description of what was wrong and where.
template <typename JsonT>
JsonT ParseJsonOrDiscard(std::string_view text, std::string* error = nullptr) {
  try {
    return JsonT::parse(text);
  } catch (const typename JsonT::exception& e) {
    if (error != nullptr) *error = e.what();
    return JsonT(JsonT::value_t::discarded);
  }
}

}  // namespace tidegate::history

#endif  // TIDEGATE_SRC_HISTORY_JSON_PARSE_H_
