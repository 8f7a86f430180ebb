// Greedy: select the largest logit.
#include "plumb/sampler.h"

namespace plumb {
namespace {

class Greedy final : public SamplerStage {
 public:
  std::string_view name() const override { return "greedy"; }
  void apply(CandidateList& cands) override {
    if (cands.items.empty()) return;
    if (cands.sorted) {
      cands.selected = 0;
      return;
    }
    size_t best = 0;
    for (size_t i = 1; i < cands.items.size(); ++i)
      if (cands.items[i].logit > cands.items[best].logit) best = i;  // first maximum wins
    cands.selected = static_cast<int32_t>(best);
  }
  std::unique_ptr<SamplerStage> clone() const override { return std::make_unique<Greedy>(*this); }
};

}  // namespace

std::unique_ptr<SamplerStage> make_greedy() { return std::make_unique<Greedy>(); }

}  // namespace plumb
