// Top-k: keep the k largest logits.
#include <algorithm>

#include "plumb/sampler.h"

namespace plumb {
namespace {

class TopK final : public SamplerStage {
 public:
  explicit TopK(int32_t k) : k_(k) {}
  std::string_view name() const override { return "top-k"; }
  void apply(CandidateList& cands) override {
    if (k_ <= 0 || static_cast<size_t>(k_) >= cands.items.size()) {
      candidates_sort(cands);
      return;
    }
    if (!cands.sorted) {
      // Partial sort: O(n log k) instead of sorting the whole vocabulary.  Ties break by
      // id so the result does not depend on the algorithm.
      auto cmp = [](const TokenCandidate& a, const TokenCandidate& b) {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
      };
      std::partial_sort(cands.items.begin(), cands.items.begin() + k_, cands.items.end(), cmp);
      cands.sorted = true;
    }
    cands.items.resize(static_cast<size_t>(k_));
  }
  std::unique_ptr<SamplerStage> clone() const override { return std::make_unique<TopK>(*this); }

 private:
  int32_t k_;
};

}  // namespace

std::unique_ptr<SamplerStage> make_top_k(int32_t k) { return std::make_unique<TopK>(k); }

}  // namespace plumb
