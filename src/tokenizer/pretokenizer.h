// tokenizer/pretokenizer.h — splits text into words before byte-level BPE, with the
// regexes llama.cpp uses for each `tokenizer.ggml.pre` value (run by PCRE2, UTF + UCP, JIT).
//
// Each regex of the list splits every current piece further: matches and the text between
// them both become pieces, and a regex never sees past the end of the piece it splits.
//
// Thread safety: immutable after compile(); split() may run in many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plumb/status.h"

namespace plumb::tok {

// The regex list llama.cpp uses for `pre`; NotFound (naming it) when unknown.
Result<std::vector<std::string>> pre_tokenizer_regexes(std::string_view pre);

// Rewrites `\s` and `\S` into explicit classes of the White_Space set so that PCRE2 agrees
// with llama.cpp and Python (PCRE2 10.42's \s misses U+0085).
std::string rewrite_whitespace_classes(std::string_view regex);

class PreTokenizer {
 public:
  PreTokenizer();
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // Compiles the regexes; the message names the regex and PCRE2's complaint.
  Status compile(const std::vector<std::string>& regexes);
  bool empty() const;

  // Splits `text` (valid UTF-8; `pcre_text` is the same length and is what the regexes see)
  // into pieces, appended to `words` as [begin, end) byte offsets.
  void split(std::string_view pcre_text, std::vector<std::pair<size_t, size_t>>* words) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb::tok
