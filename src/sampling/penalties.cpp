// Repetition / frequency / presence penalties over a window of the last accepted tokens.
#include <unordered_map>

#include "plumb/sampler.h"

namespace plumb {
namespace {

class Penalties final : public SamplerStage {
 public:
  Penalties(int32_t last_n, float repeat, float frequency, float presence)
      : last_n_(last_n), repeat_(repeat), frequency_(frequency), presence_(presence) {
    if (last_n_ > 0) ring_.assign(static_cast<size_t>(last_n_), -1);
  }
  std::string_view name() const override { return "penalties"; }

  void accept(int32_t token) override {
    if (last_n_ == 0) return;
    if (last_n_ < 0) {  // whole history
      ++counts_[token];
      return;
    }
    // The window is a ring so that accept() is O(1) and allocation-free once full.
    const int32_t old = ring_[head_];
    if (old >= 0) {
      auto it = counts_.find(old);
      if (--it->second == 0) counts_.erase(it);
    }
    ring_[head_] = token;
    head_ = (head_ + 1) % ring_.size();
    ++counts_[token];
  }

  void apply(CandidateList& cands) override {
    if (counts_.empty()) return;
    for (auto& c : cands.items) {
      auto it = counts_.find(c.id);
      if (it == counts_.end()) continue;
      const int n = it->second;
      c.logit = c.logit > 0 ? c.logit / repeat_ : c.logit * repeat_;
      c.logit -= static_cast<float>(n) * frequency_ + (n > 0 ? presence_ : 0.0f);
    }
    cands.sorted = false;
  }

  void reset() override {
    counts_.clear();
    std::fill(ring_.begin(), ring_.end(), -1);
    head_ = 0;
  }

  std::unique_ptr<SamplerStage> clone() const override { return std::make_unique<Penalties>(*this); }

 private:
  int32_t last_n_;
  float repeat_, frequency_, presence_;
  std::vector<int32_t> ring_;
  size_t head_ = 0;
  std::unordered_map<int32_t, int> counts_;
};

}  // namespace

std::unique_ptr<SamplerStage> make_penalties(int32_t last_n, float repeat, float frequency, float presence) {
  return std::make_unique<Penalties>(last_n, repeat, frequency, presence);
}

}  // namespace plumb
