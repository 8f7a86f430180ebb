// Internal side of fts_query_from_text(): the individual FTS5 terms.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace plumb::index {

struct FtsTerm {
  std::string word;  // lowercased, letters/digits/non-ASCII bytes only
  bool prefix = false;
  // `"word"` or `"word"*` — safe to paste into a MATCH expression.
  std::string expr() const { return "\"" + word + "\"" + (prefix ? "*" : ""); }
};

std::vector<FtsTerm> fts_terms_from_text(std::string_view text);
// Joins terms with OR; "" for none.
std::string join_fts_terms(const std::vector<FtsTerm>& terms);

}  // namespace plumb::index
