// CandidateList helpers shared by the stages.
#include <algorithm>
#include <cmath>

#include "plumb/sampler.h"

namespace plumb {

void CandidateList::assign(std::span<const float> logits) {
  items.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) items[i] = {static_cast<int32_t>(i), logits[i], 0.0f};
  sorted = false;
  selected = -1;
}

void candidates_sort(CandidateList& cands) {
  if (cands.sorted) return;
  // Stable so that equal logits keep id order: results do not depend on the sort algorithm.
  std::stable_sort(cands.items.begin(), cands.items.end(),
                   [](const TokenCandidate& a, const TokenCandidate& b) { return a.logit > b.logit; });
  cands.sorted = true;
}

void candidates_softmax(CandidateList& cands) {
  candidates_sort(cands);
  if (cands.items.empty()) return;
  const float max_logit = cands.items[0].logit;
  double sum = 0;
  for (auto& c : cands.items) {
    c.p = std::exp(c.logit - max_logit);
    sum += c.p;
  }
  for (auto& c : cands.items) c.p = static_cast<float>(c.p / sum);
}

}  // namespace plumb
