// Fitting the answer prompt to the context: shorter passages first, fewer passages second,
// because the best-ranked passage matters most.
#include "rag/rag.h"

namespace plumb::rag {
namespace {

constexpr size_t kFirstCap = 1500;  // what build_answer_prompt keeps per passage anyway
constexpr size_t kMinCap = 120;

std::string cut_utf8(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not mid-character
  return s.substr(0, cut) + " …";
}

}  // namespace

Result<std::string> fit_answer_prompt(const std::string& question, const std::vector<index::SearchHit>& hits,
                                      size_t max_tokens, const std::function<size_t(const std::string&)>& count_tokens,
                                      size_t* used) {
  for (size_t n = hits.size(); n >= 1; --n) {
    for (size_t cap = kFirstCap;; cap /= 2) {
      cap = std::max(cap, kMinCap);
      std::vector<index::SearchHit> quoted(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(n));
      for (auto& h : quoted) h.text = cut_utf8(h.text, cap);
      std::string prompt = index::build_answer_prompt(question, quoted);
      if (count_tokens(prompt) <= max_tokens) {
        if (used) *used = n;
        return prompt;
      }
      if (cap == kMinCap) break;
    }
  }
  return Status::OutOfRange("the question and one passage of " + std::to_string(kMinCap) +
                            " characters do not fit in " + std::to_string(max_tokens) +
                            " prompt tokens (raise -c or lower -n)");
}

Result<index::Answer> answer_with_local_model(index::DocIndex& index, const std::string& question,
                                              const index::QueryOptions& options, LocalGenerator& generator) {
  index::Answer a;
  PLUMB_ASSIGN_OR_RETURN(a.sources, index.query(question, options));
  if (a.sources.empty()) {
    a.text = "No passage in the index matches the question.";
    return a;
  }
  size_t used = 0;
  PLUMB_ASSIGN_OR_RETURN(
      a.prompt, fit_answer_prompt(question, a.sources, generator.prompt_budget(),
                                  [&](const std::string& p) { return generator.prompt_tokens(p); }, &used));
  a.sources.resize(used);
  a.extractive = false;
  PLUMB_ASSIGN_OR_RETURN(a.text, generator.generate(a.prompt));
  return a;
}

}  // namespace plumb::rag
