// The watermark sampling stage: which logits it raises, and that text generated through it
// from a synthetic language model is detected while unmarked text is not.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <span>

#include "plumb/sampler.h"
#include "plumb/watermark.h"

namespace plumb {
namespace {

std::unique_ptr<SamplerStage> make_stage(WatermarkScheme s, int32_t vocab, double delta = 2.0) {
  WatermarkConfig c;
  c.scheme = s;
  c.delta = delta;
  auto st = make_watermark_stage(c, vocab);
  EXPECT_TRUE(st.ok()) << st.status().to_string();
  return std::move(*st);
}

Watermark make_wm(WatermarkScheme s, int32_t vocab) {
  WatermarkConfig c;
  c.scheme = s;
  return *Watermark::create(c, vocab);
}

CandidateList random_candidates(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, 3);
  std::vector<float> logits(n);
  for (auto& x : logits) x = d(rng);
  CandidateList c;
  c.assign(logits);
  return c;
}

TEST(WatermarkStage, LeftHashBiasesExactlyTheGreenList) {
  const int32_t vocab = 1000;
  auto stage = make_stage(WatermarkScheme::kLeftHash, vocab, 2.5);
  EXPECT_EQ(stage->name(), "watermark");
  stage->accept(17);
  stage->accept(5);
  const auto before = random_candidates(1010, 1);  // logits wider than the vocabulary
  auto after = before;
  stage->apply(after);
  const auto green = make_wm(WatermarkScheme::kLeftHash, vocab).green_list(std::vector<int32_t>{5});
  std::vector<bool> is_green(1010, false);
  for (int32_t id : green) is_green[static_cast<size_t>(id)] = true;
  for (size_t i = 0; i < before.items.size(); ++i) {
    ASSERT_EQ(after.items[i].id, before.items[i].id);
    EXPECT_FLOAT_EQ(after.items[i].logit, before.items[i].logit + (is_green[i] ? 2.5f : 0.0f)) << i;
  }
}

TEST(WatermarkStage, SelfHashChecksOnlyTheBestCandidatesAgainstTheirOwnLists) {
  const int32_t vocab = 2000;
  auto stage = make_stage(WatermarkScheme::kSelfHash, vocab);
  for (int32_t t : {1, 400, 77, 1234}) stage->accept(t);
  const auto before = random_candidates(vocab, 2);
  auto after = before;
  stage->apply(after);
  std::vector<size_t> order(before.items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return before.items[a].logit > before.items[b].logit; });
  const Watermark wm = make_wm(WatermarkScheme::kSelfHash, vocab);
  int biased = 0;
  for (size_t rank = 0; rank < order.size(); ++rank) {
    const auto& c = before.items[order[rank]];
    bool expect = false;
    if (rank < 41) {
      const auto own = wm.green_list(std::vector<int32_t>{400, 77, 1234, c.id});
      expect = std::find(own.begin(), own.end(), c.id) != own.end();
    }
    biased += expect;
    EXPECT_FLOAT_EQ(after.items[order[rank]].logit, c.logit + (expect ? 2.0f : 0.0f)) << "rank " << rank;
  }
  EXPECT_GT(biased, 2);  // about 41 / 4
}

TEST(WatermarkStage, ShortContextLeavesLogitsAloneAndResetForgets) {
  auto stage = make_stage(WatermarkScheme::kSelfHash, 500);
  const auto before = random_candidates(500, 3);
  auto after = before;
  stage->accept(1);
  stage->accept(2);
  stage->apply(after);  // 2 of the 3 needed ids
  for (size_t i = 0; i < before.items.size(); ++i) ASSERT_EQ(after.items[i].logit, before.items[i].logit);
  stage->accept(3);
  auto copy = stage->clone();
  auto a = before, b = before;
  stage->apply(a);
  copy->apply(b);
  bool changed = false;
  for (size_t i = 0; i < a.items.size(); ++i) {
    ASSERT_EQ(a.items[i].logit, b.items[i].logit);  // the clone carries the context
    changed |= a.items[i].logit != before.items[i].logit;
  }
  EXPECT_TRUE(changed);
  stage->reset();
  auto c = before;
  stage->apply(c);
  for (size_t i = 0; i < before.items.size(); ++i) ASSERT_EQ(c.items[i].logit, before.items[i].logit);
}

// A synthetic language model: logits(prev, id) ~ N(0, 2), fixed by a hash, so every run of
// the test sees the same distributions.
void synthetic_logits_uncached(int32_t prev, int32_t vocab, float* out) {
  for (int32_t id = 0; id < vocab; ++id) {
    const int32_t key[2] = {prev, id};
    const uint64_t h = XXH3_64bits(key, sizeof key);
    // Sum of 4 uniform bytes pairs -> roughly normal, sd ~ 2.
    double s = 0;
    for (int k = 0; k < 4; ++k) s += static_cast<double>((h >> (16 * k)) & 0xffff) / 65535.0 - 0.5;
    out[static_cast<size_t>(id)] = static_cast<float>(s * 3.46);
  }
}

// The whole table (vocab x vocab), computed once.
std::span<const float> synthetic_logits(int32_t prev, int32_t vocab) {
  static std::vector<float> table;
  static int32_t table_vocab = 0;
  if (table_vocab != vocab) {
    table.resize(static_cast<size_t>(vocab) * static_cast<size_t>(vocab));
    for (int32_t p = 0; p < vocab; ++p) synthetic_logits_uncached(p, vocab, table.data() + static_cast<size_t>(p) * vocab);
    table_vocab = vocab;
  }
  return std::span<const float>(table).subspan(static_cast<size_t>(prev) * vocab, static_cast<size_t>(vocab));
}

std::vector<int32_t> generate(SamplerStage* watermark, int32_t vocab, uint32_t seed, int n) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  auto chain = make_sampler_chain(p);
  if (watermark != nullptr) chain->insert(logit_stage_index(p), watermark->clone());
  const int32_t bos = 1;
  chain->accept(bos);
  std::vector<int32_t> ids = {bos};
  CandidateList cands;
  for (int i = 0; i < n; ++i) {
    const int32_t t = chain->sample(synthetic_logits(ids.back(), vocab), cands);
    EXPECT_GE(t, 0);
    chain->accept(t);
    ids.push_back(t);
  }
  return ids;
}

TEST(WatermarkStage, GeneratedTextIsDetectedAndUnmarkedTextIsNot) {
  const int32_t vocab = 1000;
  for (auto scheme : {WatermarkScheme::kLeftHash, WatermarkScheme::kSelfHash, WatermarkScheme::kHash}) {
    SCOPED_TRACE(std::string(watermark_scheme_name(scheme)));
    auto stage = make_stage(scheme, vocab);
    WatermarkConfig cfg;
    cfg.scheme = scheme;
    DetectOptions opts;
    opts.bos_id = 1;
    auto det = Detector::create(cfg, vocab, opts);
    ASSERT_TRUE(det.ok());
    int detected = 0, false_alarms = 0;
    double min_marked = 1e9, max_plain = -1e9;
    const int runs = 20;
    for (int r = 0; r < runs; ++r) {
      const auto marked = generate(stage.get(), vocab, 100 + r, 200);
      const auto plain = generate(nullptr, vocab, 100 + r, 200);
      const auto rm = det->detect(marked);
      const auto rp = det->detect(plain);
      ASSERT_TRUE(rm.scored && rp.scored);
      detected += rm.detected;
      false_alarms += rp.detected;
      min_marked = std::min(min_marked, rm.z);
      max_plain = std::max(max_plain, rp.z);
    }
    std::printf("%s: %d/%d marked texts detected (lowest z %.2f); highest unmarked z %.2f\n",
                std::string(watermark_scheme_name(scheme)).c_str(), detected, runs, min_marked, max_plain);
    EXPECT_GE(detected, 19) << "lowest marked z " << min_marked;  // >= 95%
    EXPECT_EQ(false_alarms, 0) << "highest unmarked z " << max_plain;
  }
}

}  // namespace
}  // namespace plumb
