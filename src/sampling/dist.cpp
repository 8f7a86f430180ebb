// Seeded random draw from softmax(logits).
#include <random>

#include "plumb/sampler.h"

namespace plumb {
namespace {

class Dist final : public SamplerStage {
 public:
  explicit Dist(uint32_t seed) : seed_(seed), rng_(seed) {}
  std::string_view name() const override { return "dist"; }
  void apply(CandidateList& cands) override {
    if (cands.items.empty()) return;
    candidates_softmax(cands);
    // A uniform double from 53 random bits, computed by hand: std::uniform_real_distribution's
    // output is not specified across standard libraries, and the same seed must give the same
    // tokens everywhere.
    const uint64_t hi = rng_() >> 5, lo = rng_() >> 6;
    const double u = (static_cast<double>(hi) * 67108864.0 + static_cast<double>(lo)) / 9007199254740992.0;
    double cum = 0;
    for (size_t i = 0; i < cands.items.size(); ++i) {
      cum += cands.items[i].p;
      if (u < cum) {
        cands.selected = static_cast<int32_t>(i);
        return;
      }
    }
    cands.selected = static_cast<int32_t>(cands.items.size() - 1);  // rounding left u >= cum
  }
  void reset() override { rng_.seed(seed_); }
  std::unique_ptr<SamplerStage> clone() const override { return std::make_unique<Dist>(*this); }

 private:
  uint32_t seed_;
  std::mt19937 rng_;
};

}  // namespace

std::unique_ptr<SamplerStage> make_dist(uint32_t seed) { return std::make_unique<Dist>(seed); }

}  // namespace plumb
