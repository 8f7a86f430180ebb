// Top-p (nucleus): keep the smallest most-probable prefix whose mass reaches p.
#include "plumb/sampler.h"

namespace plumb {
namespace {

class TopP final : public SamplerStage {
 public:
  TopP(float p, size_t min_keep) : p_(p), min_keep_(min_keep) {}
  std::string_view name() const override { return "top-p"; }
  void apply(CandidateList& cands) override {
    if (p_ >= 1.0f || cands.items.empty()) return;
    candidates_softmax(cands);
    double cum = 0;
    size_t keep = cands.items.size();
    for (size_t i = 0; i < cands.items.size(); ++i) {
      cum += cands.items[i].p;
      if (cum >= p_ && i + 1 >= min_keep_) {
        keep = i + 1;
        break;
      }
    }
    cands.items.resize(keep);
  }
  std::unique_ptr<SamplerStage> clone() const override { return std::make_unique<TopP>(*this); }

 private:
  float p_;
  size_t min_keep_;
};

}  // namespace

std::unique_ptr<SamplerStage> make_top_p(float p, size_t min_keep) { return std::make_unique<TopP>(p, min_keep); }

}  // namespace plumb
