// Temperature: logits / t.
#include <cassert>

#include "plumb/sampler.h"

namespace plumb {
namespace {

class Temperature final : public SamplerStage {
 public:
  explicit Temperature(float t) : t_(t) { assert(t > 0); }
  std::string_view name() const override { return "temperature"; }
  void apply(CandidateList& cands) override {
    for (auto& c : cands.items) c.logit /= t_;  // order is preserved, so `sorted` stays valid
  }
  std::unique_ptr<SamplerStage> clone() const override { return std::make_unique<Temperature>(*this); }

 private:
  float t_;
};

}  // namespace

std::unique_ptr<SamplerStage> make_temperature(float temp) { return std::make_unique<Temperature>(temp); }

}  // namespace plumb
