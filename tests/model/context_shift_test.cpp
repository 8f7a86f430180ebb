// Context::shift and generation with GenerateOptions::context_shift.
//
// The key property: RoPE scores depend only on relative positions, so a key cached at p and
// re-rotated by -d equals the key computed at p - d.  In a one-layer model a token's cached
// key and value depend on nothing but the token and its position, so after a shift the context
// must give the same logits as a fresh context fed exactly the kept tokens (and as the
// double-precision reference on them).  With more layers that is not so, in plumb as in
// llama.cpp: a kept token's keys and values in layer l > 0 were computed while it attended to
// the tokens since dropped, and keep that trace; a sliding window short enough to put that
// trace out of reach makes the check exact again.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model/model_fixture.h"
#include "model/one_layer_model.h"
#include "model/reference_forward.h"
#include "plumb/generate.h"
#include "plumb/gguf.h"
#include "plumb/model.h"
#include "plumb/sampler.h"
#include "support/test_support.h"

namespace plumb {
namespace {

using test::ModelShape;

// F32 weights: the shifted and the fresh context differ only by float rounding of the
// rotations (one extra rotation of each moved key), so the 1e-4 of the largest logit.
constexpr double kTol = 1e-4;

double max_rel_diff(std::span<const float> a, std::span<const float> b) {
  double mx = 0, d = 0;
  for (size_t v = 0; v < a.size(); ++v) {
    mx = std::max(mx, std::abs(static_cast<double>(b[v])));
    d = std::max(d, std::abs(static_cast<double>(a[v]) - static_cast<double>(b[v])));
  }
  return d / mx;
}

std::vector<int32_t> random_ids(size_t n, int n_vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(0, n_vocab - 1);
  std::vector<int32_t> ids(n);
  for (auto& id : ids) id = d(rng);
  return ids;
}

struct ShiftCase {
  const char* label;
  ModelShape shape;
};

void PrintTo(const ShiftCase& c, std::ostream* os) { *os << c.label; }

std::vector<ShiftCase> shift_cases() {
  std::vector<ShiftCase> out;
  ModelShape a;  // llama (normal RoPE), GQA 8:2, one layer (see the top of the file)
  a.n_layer = 1;
  a.n_head = 8;
  a.n_head_kv = 2;
  a.seed = 11;
  out.push_back({"llama_gqa", a});
  ModelShape b = a;  // llama with Llama-3.1-style rope_freqs factors and linear scaling
  b.rope_freqs = true;
  b.rope_linear_factor = 2.0f;
  b.rope_base = 500000.0f;
  b.seed = 12;
  out.push_back({"llama_freqs_linear", b});
  ModelShape c;  // qwen2 (NeoX RoPE, q/k/v biases), GQA 6:2, Qwen's rope base
  c.arch = "qwen2";
  c.n_layer = 1;
  c.n_embd = 96;
  c.n_head = 6;
  c.n_head_kv = 2;
  c.n_ff = 160;
  c.rope_base = 1000000.0f;
  c.tied = true;
  c.seed = 13;
  out.push_back({"qwen2_gqa", c});
  ModelShape d;  // qwen2 without GQA
  d.arch = "qwen2";
  d.n_layer = 1;
  d.seed = 14;
  out.push_back({"qwen2_mha", d});
  // gemma3: its one layer is a sliding-window layer (a window of 64 that cuts nothing here), so it
  // rotates with the local RoPE table (base 10000, unscaled), not the global one (1e6, linear 8):
  // the shift must re-rotate with the layer's own table.
  ModelShape e;
  e.arch = "gemma3";
  e.n_layer = 1;
  e.n_head_kv = 2;
  e.sliding_window = 64;
  e.rope_base = 1000000.0f;
  e.rope_linear_factor = 8.0f;
  e.seed = 15;
  out.push_back({"gemma3_local", e});
  ModelShape f = e;  // ... and without a window its layer is global
  f.sliding_window = 0;
  f.seed = 16;
  out.push_back({"gemma3_global", f});
  // phi3 with LongRoPE: the cached keys carry the attention factor once; the shift's re-rotation
  // must not apply it again.  n_ctx 64 > the original 32: the long factors.
  ModelShape g;
  g.arch = "phi3";
  g.n_layer = 1;
  g.long_rope = true;
  g.n_ctx_orig = 32;
  g.rope_attn_factor = 1.19f;
  g.seed = 17;
  out.push_back({"phi3_longrope", g});
  // smollm3: one layer here; the deep test below gives it four, the last without RoPE, whose
  // cached keys the shift must leave unrotated.
  ModelShape h;
  h.arch = "smollm3";
  h.n_layer = 1;
  h.seed = 18;
  out.push_back({"smollm3_nope", h});
  // gpt-oss: YaRN's attention factor is in the cached keys once (as LongRoPE's), and the sinks
  // and experts come along; its one layer has a window (64, cutting nothing here).
  ModelShape o;
  o.arch = "gpt-oss";
  o.n_layer = 1;
  o.n_head_kv = 2;
  o.sliding_window = 64;
  o.rope_yarn_factor = 4;
  o.n_ctx_orig = 16;
  o.n_expert = 4;
  o.n_expert_used = 2;
  o.n_ff_exp = 64;
  o.seed = 19;
  out.push_back({"gpt_oss_yarn", o});
  return out;
}

class ContextShift : public ::testing::TestWithParam<ShiftCase> {};

TEST_P(ContextShift, LogitsEqualAFreshContextOfTheKeptTokens) {
  const ModelShape& shape = GetParam().shape;
  test::TempDir dir;
  const std::string path = dir.file("m.gguf");
  ASSERT_TRUE(test::write_model(shape, path).ok());
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.status().to_string();

  const auto seq = random_ids(40, shape.n_vocab, shape.seed);
  const auto next = random_ids(3, shape.n_vocab, shape.seed + 100);
  // n_batch 16: the 40 tokens go in three chunks.
  auto shifted = Context::create(**model, {.n_ctx = 64, .n_batch = 16, .n_threads = 2});
  ASSERT_TRUE(shifted.ok());
  ASSERT_TRUE((*shifted)->eval(seq).ok());
  // Two shifts (keep 5, drop 13; then keep 5, drop 7): the second moves keys already re-rotated once.
  ASSERT_TRUE((*shifted)->shift(5, 13).ok());
  EXPECT_EQ((*shifted)->n_past(), 27);
  ASSERT_TRUE((*shifted)->shift(5, 7).ok());
  EXPECT_EQ((*shifted)->n_past(), 20);
  ASSERT_TRUE((*shifted)->eval(next, /*all_logits=*/true).ok());

  // Kept: seq[0, 5) and seq[25, 40), then the new tokens.
  std::vector<int32_t> kept(seq.begin(), seq.begin() + 5);
  kept.insert(kept.end(), seq.begin() + 25, seq.end());
  kept.insert(kept.end(), next.begin(), next.end());
  auto fresh = Context::create(**model, {.n_ctx = 64, .n_batch = 16, .n_threads = 2});
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE((*fresh)->eval(kept, /*all_logits=*/true).ok());
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file.ok());
  const auto ref = test::reference_logits(**file, std::vector<int>(kept.begin(), kept.end()), /*n_ctx=*/64);

  auto unshifted = Context::create(**model, {.n_ctx = 64, .n_batch = 16, .n_threads = 2});
  ASSERT_TRUE(unshifted.ok());
  ASSERT_TRUE((*unshifted)->eval(seq).ok());
  ASSERT_TRUE((*unshifted)->eval(next, /*all_logits=*/true).ok());

  double worst_fresh = 0, worst_ref = 0, least_unshifted = 1e9;
  for (size_t i = 0; i < next.size(); ++i) {
    auto got = (*shifted)->logits_at(i);
    worst_fresh = std::max(worst_fresh, max_rel_diff(got, (*fresh)->logits_at(kept.size() - next.size() + i)));
    const auto& r = ref[kept.size() - next.size() + i];
    std::vector<float> rf(r.begin(), r.end());
    worst_ref = std::max(worst_ref, max_rel_diff(got, rf));
    least_unshifted = std::min(least_unshifted, max_rel_diff(got, (*unshifted)->logits_at(i)));
  }
  EXPECT_LE(worst_fresh, kTol) << GetParam().label;
  EXPECT_LE(worst_ref, kTol) << GetParam().label;
  // The comparison can fail: forgetting 20 tokens changes the logits far beyond the tolerance.
  EXPECT_GT(least_unshifted, 100 * kTol) << GetParam().label;
  std::printf("  %-20s vs fresh %.2e  vs reference %.2e  (vs no shift %.2e)\n", GetParam().label, worst_fresh,
              worst_ref, least_unshifted);
}

// Deeper models, made exact by a sliding window: with window 4 and 3 layers the next tokens'
// logits depend only on the last 3 * 3 + 1 positions (4 * 3 + 1 with smollm3's 4 layers), and
// those depend only on kept tokens, so the dropped tokens' trace is out of reach and the shifted
// context must again equal a fresh one, in every layer's re-rotated keys.
TEST_P(ContextShift, DeepModelsWithASlidingWindowEqualAFreshContext) {
  ModelShape shape = GetParam().shape;
  if (shape.arch == "phi3")
    GTEST_SKIP() << "phi3 runs without its sliding window (as llama.cpp), so this check does not apply";
  if (shape.arch == "gpt-oss")
    GTEST_SKIP() << "gpt-oss's odd layers attend to everything, so the dropped tokens stay in reach";
  shape.n_layer = shape.arch == "smollm3" ? 4 : 3;  // smollm3's layer 3 has no RoPE
  shape.sliding_window = 4;
  test::TempDir dir;
  ASSERT_TRUE(test::write_model(shape, dir.file("m.gguf")).ok());
  auto model = Model::load(dir.file("m.gguf"));
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const auto seq = random_ids(40, shape.n_vocab, shape.seed);
  const auto next = random_ids(3, shape.n_vocab, shape.seed + 100);
  std::vector<std::unique_ptr<Context>> ctx;
  for (int i = 0; i < 3; ++i) {
    auto c = Context::create(**model, {.n_ctx = 64, .n_batch = 16, .n_threads = 2});
    ASSERT_TRUE(c.ok());
    ctx.push_back(std::move(*c));
  }
  ASSERT_TRUE(ctx[0]->eval(seq).ok());
  ASSERT_TRUE(ctx[0]->shift(5, 13).ok());
  ASSERT_TRUE(ctx[0]->eval(next, /*all_logits=*/true).ok());
  std::vector<int32_t> kept(seq.begin(), seq.begin() + 5);
  kept.insert(kept.end(), seq.begin() + 18, seq.end());
  kept.insert(kept.end(), next.begin(), next.end());
  ASSERT_TRUE(ctx[1]->eval(kept, /*all_logits=*/true).ok());
  // For the claim above: 13 unrelated tokens in front of the kept ones change nothing.
  std::vector<int32_t> later = random_ids(13, shape.n_vocab, 5);
  later.insert(later.end(), kept.begin(), kept.end());
  ASSERT_TRUE(ctx[2]->eval(later, /*all_logits=*/true).ok());
  double worst = 0;
  for (size_t i = 0; i < next.size(); ++i) {
    worst = std::max(worst, max_rel_diff(ctx[0]->logits_at(i), ctx[1]->logits_at(kept.size() - next.size() + i)));
    EXPECT_LE(max_rel_diff(ctx[1]->logits_at(kept.size() - next.size() + i),
                           ctx[2]->logits_at(later.size() - next.size() + i)),
              1e-3)
        << GetParam().label;
  }
  EXPECT_LE(worst, kTol) << GetParam().label;
  std::printf("  %-20s %d layers, window 4: vs fresh %.2e\n", GetParam().label, shape.n_layer, worst);
}

INSTANTIATE_TEST_SUITE_P(Arches, ContextShift, ::testing::ValuesIn(shift_cases()),
                         [](const auto& info) { return std::string(info.param.label); });

// With an f16 or q8_0 cache (ContextParams::kv_type) the shift rotates each moved key through
// floats and rounds it to the cache's type again, one more rounding than a fresh context's keys
// take: the logits stay within `tol` of a fresh context of that type, and more than 10 * tol
// from an unshifted one.  q8_0 needs heads of whole blocks, so its models have heads of 32.
void check_shift_with_cache(TensorType type, double tol) {
  for (ShiftCase c : shift_cases()) {
    if (std::string(c.label) != "llama_gqa" && std::string(c.label) != "qwen2_gqa") continue;
    if (type == TensorType::kQ8_0) c.shape.n_embd = 32 * c.shape.n_head;
    test::TempDir dir;
    const std::string path = dir.file("m.gguf");
    ASSERT_TRUE(test::write_model(c.shape, path).ok());
    auto model = Model::load(path);
    ASSERT_TRUE(model.ok());
    const auto seq = random_ids(40, c.shape.n_vocab, c.shape.seed);
    const auto next = random_ids(3, c.shape.n_vocab, c.shape.seed + 100);
    const ContextParams cp{.n_ctx = 64, .n_batch = 16, .n_threads = 2, .kv_type = type};
    auto shifted = Context::create(**model, cp);
    ASSERT_TRUE(shifted.ok());
    ASSERT_TRUE((*shifted)->eval(seq).ok());
    ASSERT_TRUE((*shifted)->shift(5, 13).ok());
    ASSERT_TRUE((*shifted)->shift(5, 7).ok());
    ASSERT_TRUE((*shifted)->eval(next, /*all_logits=*/true).ok());
    std::vector<int32_t> kept(seq.begin(), seq.begin() + 5);
    kept.insert(kept.end(), seq.begin() + 25, seq.end());
    kept.insert(kept.end(), next.begin(), next.end());
    auto fresh = Context::create(**model, cp);
    ASSERT_TRUE(fresh.ok());
    ASSERT_TRUE((*fresh)->eval(kept, /*all_logits=*/true).ok());
    auto unshifted = Context::create(**model, cp);
    ASSERT_TRUE(unshifted.ok());
    ASSERT_TRUE((*unshifted)->eval(seq).ok());
    ASSERT_TRUE((*unshifted)->eval(next, /*all_logits=*/true).ok());
    double worst = 0, least_unshifted = 1e9;
    for (size_t i = 0; i < next.size(); ++i) {
      auto got = (*shifted)->logits_at(i);
      worst = std::max(worst, max_rel_diff(got, (*fresh)->logits_at(kept.size() - next.size() + i)));
      least_unshifted = std::min(least_unshifted, max_rel_diff(got, (*unshifted)->logits_at(i)));
    }
    EXPECT_LE(worst, tol) << c.label;
    EXPECT_GT(least_unshifted, 10 * tol) << c.label;
    std::printf("  %s cache %-12s vs fresh %.2e  (vs no shift %.2e)\n", tensor_type_name(type).data(), c.label, worst,
                least_unshifted);
  }
}

TEST(ContextShiftF16, MovedKeysStayCloseToAFreshContext) { check_shift_with_cache(TensorType::kF16, 2e-3); }

TEST(ContextShiftQ8_0, MovedKeysStayCloseToAFreshContext) { check_shift_with_cache(TensorType::kQ8_0, 8e-3); }

class ShiftFixture : public test::OneLayerModelTest {};

TEST_F(ShiftFixture, ArgumentsAreChecked) {
  auto ctx = context(32);
  const auto ids = random_ids(10, shape_.n_vocab, 3);
  ASSERT_TRUE(ctx->eval(ids).ok());
  for (auto [keep, discard] : {std::pair{-1, 1}, {0, -1}, {5, 6}, {11, 0}, {0, 11}}) {
    Status st = ctx->shift(keep, discard);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << keep << " " << discard;
    EXPECT_NE(st.message().find("the 10 positions the context holds"), std::string::npos) << st.message();
    EXPECT_EQ(ctx->n_past(), 10);
  }
  EXPECT_TRUE(ctx->shift(4, 0).ok());
  EXPECT_EQ(ctx->n_past(), 10);
  EXPECT_TRUE(ctx->shift(10, 0).ok());
  // Dropping the tail is a truncation; dropping everything empties the cache.
  EXPECT_TRUE(ctx->shift(7, 3).ok());
  EXPECT_EQ(ctx->n_past(), 7);
  EXPECT_TRUE(ctx->shift(0, 7).ok());
  EXPECT_EQ(ctx->n_past(), 0);
}

// Generates greedily and checks, token by token, that each logprob is what a fresh context
// fed exactly the tokens the shifted cache holds gives: the shifts keep the first `keep`
// tokens and drop `discard` after them each time the 32-token context is full.
void expect_matches_sliding_window(const Model& model, const std::vector<TokenId>& prompt,
                                   const GenerateResult& r, size_t keep, size_t discard) {
  std::vector<int32_t> window(prompt.begin(), prompt.end());
  auto fresh = Context::create(model, {.n_ctx = 32, .n_batch = 32, .n_threads = 1});
  ASSERT_TRUE(fresh.ok());
  double worst = 0;
  for (size_t i = 0; i < r.tokens.size(); ++i) {
    (*fresh)->truncate(0);
    ASSERT_TRUE((*fresh)->eval(window).ok());
    worst = std::max(worst, std::abs(token_logprob((*fresh)->logits(), r.tokens[i]) - r.logprobs[i]));
    if (window.size() == 32) window.erase(window.begin() + keep, window.begin() + keep + discard);
    window.push_back(r.tokens[i]);
  }
  EXPECT_LE(worst, 1e-3);
}

TEST_F(ShiftFixture, GenerationRunsPastTheContext) {
  auto ctx = context(32);
  const std::vector<TokenId> prompt = {1, 5, 9, 3, 7};
  GenerateOptions go;
  go.n_predict = 100;
  SamplerChain greedy;
  greedy.add(make_greedy());

  // Off (the default): stops when full, after positions 5..31 are evaluated plus one sample.
  auto off = generate(*ctx, nullptr, greedy, prompt, go);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->stop_reason, StopReason::kContextFull);
  EXPECT_EQ(off->tokens.size(), 28u);
  EXPECT_EQ(off->n_shifts, 0);

  // On, keeping the whole prompt (5 tokens): each shift drops (32 - 5) / 2 = 13.  The 99
  // evaluated tokens fill positions 5..31 (27 of them), then every 13th needs a shift:
  // shifts before evaluations 28, 41, 54, 67, 80 and 93.
  go.context_shift = true;
  ctx->truncate(0);
  auto on = generate(*ctx, nullptr, greedy, prompt, go);
  ASSERT_TRUE(on.ok()) << on.status().to_string();
  EXPECT_EQ(on->stop_reason, StopReason::kTokenLimit);
  EXPECT_EQ(on->tokens.size(), 100u);
  EXPECT_EQ(on->n_shifts, 6);
  EXPECT_EQ(on->n_discarded, 78);
  EXPECT_EQ(ctx->n_past(), 5 + 99 - 78);
  // The first 28 tokens are those of the run without a shift.
  EXPECT_TRUE(std::equal(off->tokens.begin(), off->tokens.end(), on->tokens.begin()));
  expect_matches_sliding_window(*model_, prompt, *on, 5, 13);

  // n_keep 1 (a BOS): drops (32 - 1) / 2 = 15 each time.
  go.n_keep = 1;
  ctx->truncate(0);
  auto bos = generate(*ctx, nullptr, greedy, prompt, go);
  ASSERT_TRUE(bos.ok());
  EXPECT_EQ(bos->tokens.size(), 100u);
  EXPECT_EQ(bos->n_discarded % 15, 0);
  expect_matches_sliding_window(*model_, prompt, *bos, 1, 15);

  // n_keep is capped at half the context (16): drops 8 each time.
  go.n_keep = 1000;
  ctx->truncate(0);
  auto capped = generate(*ctx, nullptr, greedy, prompt, go);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->tokens.size(), 100u);
  EXPECT_EQ(capped->n_discarded, capped->n_shifts * 8);
  expect_matches_sliding_window(*model_, prompt, *capped, 16, 8);

  go.n_keep = -2;
  ctx->truncate(0);
  auto bad = generate(*ctx, nullptr, greedy, prompt, go);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  // A prompt longer than the context is still an error, shift or not.
  go.n_keep = -1;
  ctx->truncate(0);
  const auto long_prompt = random_ids(40, shape_.n_vocab, 9);
  EXPECT_EQ(generate(*ctx, nullptr, greedy, long_prompt, go).status().code(), StatusCode::kOutOfRange);
}

// A deeper qwen2 with GQA (no exact window check, see the top of the file): generation runs
// past the context with the shift and stops with context_full without it.
TEST(ContextShiftGenerate, DeepQwen2GqaRunsPastTheContext) {
  ModelShape s = shift_cases()[2].shape;
  s.n_layer = 2;
  test::TempDir dir;
  ASSERT_TRUE(test::write_model(s, dir.file("m.gguf")).ok());
  auto model = Model::load(dir.file("m.gguf"));
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  auto ctx = Context::create(**model, {.n_ctx = 32, .n_batch = 8, .n_threads = 2});
  ASSERT_TRUE(ctx.ok());
  SamplerChain greedy;
  greedy.add(make_greedy());
  const std::vector<TokenId> prompt = {1, 5, 9, 3, 7};
  GenerateOptions go;
  go.n_predict = 100;
  auto off = generate(**ctx, nullptr, greedy, prompt, go);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->stop_reason, StopReason::kContextFull);
  go.context_shift = true;
  (*ctx)->truncate(0);
  auto on = generate(**ctx, nullptr, greedy, prompt, go);
  ASSERT_TRUE(on.ok()) << on.status().to_string();
  EXPECT_EQ(on->stop_reason, StopReason::kTokenLimit);
  EXPECT_EQ(on->tokens.size(), 100u);
  EXPECT_EQ(on->n_shifts, 6);  // as in GenerationRunsPastTheContext: same n_ctx, prompt and keep
  for (float lp : on->logprobs) EXPECT_LE(lp, 0.0f);
  EXPECT_TRUE(std::equal(off->tokens.begin(), off->tokens.end(), on->tokens.begin()));
}

}  // namespace
}  // namespace plumb
