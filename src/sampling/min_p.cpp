// Min-p: keep tokens with probability >= p * max probability.
#include <cmath>

#include "plumb/sampler.h"

namespace plumb {
namespace {

class MinP final : public SamplerStage {
 public:
  MinP(float p, size_t min_keep) : p_(p), min_keep_(min_keep) {}
  std::string_view name() const override { return "min-p"; }
  void apply(CandidateList& cands) override {
    if (p_ <= 0.0f || cands.items.empty()) return;
    candidates_sort(cands);
    // p_i / p_max = exp(l_i - l_max), so the test needs no softmax.
    const float min_logit = cands.items[0].logit + std::log(p_);
    size_t keep = 0;
    while (keep < cands.items.size() && cands.items[keep].logit >= min_logit) ++keep;
    if (keep < min_keep_) keep = std::min(min_keep_, cands.items.size());
    cands.items.resize(keep);
  }
  std::unique_ptr<SamplerStage> clone() const override { return std::make_unique<MinP>(*this); }

 private:
  float p_;
  size_t min_keep_;
};

}  // namespace

std::unique_ptr<SamplerStage> make_min_p(float p, size_t min_keep) { return std::make_unique<MinP>(p, min_keep); }

}  // namespace plumb
