// The watermark sampling stage: adds delta to green logits, as the reference's
// WatermarkLogitsProcessor does (its default "fixed_compute" rule for self-salted schemes:
// the 41 best candidates, each biased only if it is in its own green list).
#include <algorithm>
#include <array>
#include <numeric>

#include "plumb/watermark.h"
#include "watermark/green_cache.h"

namespace plumb {

namespace {

constexpr size_t kHistory = 8;
constexpr size_t kListCacheBytes = size_t{16} << 20;

class WatermarkStage final : public SamplerStage {
 public:
  explicit WatermarkStage(Watermark wm) : wm_(std::move(wm)), lists_(wm_.vocab_size(), kListCacheBytes) {}

  std::string_view name() const override { return "watermark"; }

  void accept(int32_t token) override {
    if (history_len_ == kHistory) {
      std::copy(history_.begin() + 1, history_.end(), history_.begin());
      --history_len_;
    }
    history_[history_len_++] = token;
  }

  void reset() override { history_len_ = 0; }

  std::unique_ptr<SamplerStage> clone() const override {
    auto out = std::make_unique<WatermarkStage>(wm_);
    out->history_ = history_;
    out->history_len_ = history_len_;
    return out;
  }

  void apply(CandidateList& cands) override {
    const size_t prefix = static_cast<size_t>(wm_.ngram_size() - 1);  // ids before the candidate
    if (history_len_ < prefix || cands.items.empty()) return;
    const float delta = static_cast<float>(wm_.config().delta);
    const bool reference = watermark_scheme_is_reference(wm_.config().scheme);
    std::array<int32_t, kHistory + 1> gram{};
    std::copy(history_.begin() + static_cast<std::ptrdiff_t>(history_len_ - prefix),
              history_.begin() + static_cast<std::ptrdiff_t>(history_len_), gram.begin());
    const std::span<const int32_t> ngram(gram.data(), prefix + 1);
    const int32_t vocab = wm_.vocab_size();

    if (!reference) {  // hash schemes: one digest per candidate
      for (auto& c : cands.items) {
        gram[prefix] = c.id;
        if (wm_.is_green(ngram)) c.logit += delta;
      }
      return;
    }
    if (!wm_.self_salted()) {
      const uint32_t seed = wm_.seed(ngram.first(prefix));
      const uint64_t* bits = lists_.find(seed);
      if (bits == nullptr) {
        wm_.green_list_seeded(seed, list_);
        bits = lists_.store(seed, list_);
      }
      for (auto& c : cands.items)
        if (c.id >= 0 && c.id < vocab && watermark::BitsetCache::test(bits, c.id)) c.logit += delta;
      return;
    }
    // Self-salted: decide for the best candidates against the unbiased logits, then bias.
    const size_t n = cands.items.size();
    const size_t top = std::min(n, static_cast<size_t>(wm_.config().selfhash_candidates));
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), 0u);
    if (!cands.sorted) {
      auto by_logit = [&](uint32_t a, uint32_t b) {
        return cands.items[a].logit > cands.items[b].logit || (cands.items[a].logit == cands.items[b].logit && a < b);
      };
      std::partial_sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(top), order_.end(), by_logit);
    }
    green_.clear();
    for (size_t i = 0; i < top; ++i) {
      const TokenCandidate& c = cands.items[order_[i]];
      if (c.id < 0 || c.id >= vocab) continue;
      gram[prefix] = c.id;
      const uint32_t seed = wm_.seed(ngram);
      int known = results_.lookup(seed, c.id);
      if (known < 0) {
        known = wm_.is_green_seeded(seed, c.id) ? 1 : 0;
        results_.insert(seed, c.id, known == 1);
      }
      if (known == 1) green_.push_back(order_[i]);
    }
    for (uint32_t i : green_) cands.items[i].logit += delta;
  }

 private:
  Watermark wm_;
  std::array<int32_t, kHistory> history_{};
  size_t history_len_ = 0;
  watermark::BitsetCache lists_;
  watermark::ResultCache results_{16};
  std::vector<int32_t> list_;
  std::vector<uint32_t> order_;
  std::vector<uint32_t> green_;
};

}  // namespace

Result<std::unique_ptr<SamplerStage>> make_watermark_stage(const WatermarkConfig& config, int32_t vocab_size) {
  PLUMB_ASSIGN_OR_RETURN(Watermark wm, Watermark::create(config, vocab_size));
  return std::unique_ptr<SamplerStage>(std::make_unique<WatermarkStage>(std::move(wm)));
}

}  // namespace plumb
