// The engine's logits against the double-precision reference (reference_forward.cpp) on
// synthetic models of several shapes and weight types; batched vs one-by-one decoding;
// thread-count independence.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "gguf/synth.h"
#include "model/model_fixture.h"
#include "model/reference_forward.h"
#include "plumb/generate.h"
#include "plumb/gguf.h"
#include "plumb/model.h"
#include "plumb/sampler.h"
#include "support/test_support.h"

namespace plumb {
namespace {

using test::ModelShape;

// max |engine - reference| / max |reference| over the vocabulary, worst position.
double relative_error(const std::vector<std::vector<double>>& ref, const std::function<std::span<const float>(size_t)>& got) {
  double worst = 0;
  for (size_t t = 0; t < ref.size(); ++t) {
    auto g = got(t);
    double max_ref = 0, max_diff = 0;
    for (size_t v = 0; v < ref[t].size(); ++v) {
      max_ref = std::max(max_ref, std::abs(ref[t][v]));
      max_diff = std::max(max_diff, std::abs(ref[t][v] - static_cast<double>(g[v])));
    }
    worst = std::max(worst, max_diff / max_ref);
  }
  return worst;
}

std::vector<ModelShape> shapes() {
  std::vector<ModelShape> out;
  ModelShape a;  // llama, multi-head (no GQA), untied
  out.push_back(a);
  ModelShape b;  // llama, GQA 8:2, tied output, three layers
  b.n_head = 8;
  b.n_head_kv = 2;
  b.n_ff = 128;
  b.n_layer = 3;
  b.n_vocab = 77;
  b.tied = true;
  b.seed = 2;
  out.push_back(b);
  ModelShape mq;  // llama, one KV head for 6 query heads: attention takes them in runs of 4 and 2
  mq.n_embd = 96;
  mq.n_head = 6;
  mq.n_head_kv = 1;
  mq.seed = 12;
  out.push_back(mq);
  ModelShape c;  // qwen2 (biases, NeoX rope), GQA 6:2, tied
  c.arch = "qwen2";
  c.n_embd = 96;
  c.n_head = 6;
  c.n_head_kv = 2;
  c.n_ff = 160;
  c.n_vocab = 90;
  c.tied = true;
  c.seed = 3;
  out.push_back(c);
  ModelShape d;  // qwen2 untied, no GQA, rope base of Qwen
  d.arch = "qwen2";
  d.rope_base = 1000000.0f;
  d.seed = 4;
  out.push_back(d);
  ModelShape e;  // qwen3 (q/k norms, NeoX), GQA 4:2, heads of 32 wider than n_embd / n_head, tied
  e.arch = "qwen3";
  e.head_dim = 32;
  e.n_head_kv = 2;
  e.tied = true;
  e.rope_base = 1000000.0f;
  e.seed = 5;
  out.push_back(e);
  ModelShape f;  // qwen3 untied, no GQA, head_dim = n_embd / n_head
  f.arch = "qwen3";
  f.n_layer = 3;
  f.seed = 6;
  out.push_back(f);
  ModelShape g;  // phi3 (fused attn_qkv and gate/up, NeoX), GQA 4:2, sliding window ignored as llama.cpp does
  g.arch = "phi3";
  g.n_head_kv = 2;
  g.sliding_window = 3;
  g.seed = 7;
  out.push_back(g);
  ModelShape h;  // phi3 tied, no GQA
  h.arch = "phi3";
  h.tied = true;
  h.seed = 8;
  out.push_back(h);
  ModelShape gm;  // gemma3: 4 layers, window 5 in layers 0-1 (period 3: layer 2 global), local RoPE
  gm.arch = "gemma3";  // base 10000 vs global 1e6 with linear scaling, soft-capped logits, GQA 4:2
  gm.n_layer = 4;
  gm.n_head_kv = 2;
  gm.head_dim = 32;
  gm.sliding_window = 5;
  gm.swa_period = 3;
  gm.rope_base = 1000000.0f;
  gm.rope_linear_factor = 8.0f;
  gm.logit_softcap = 3.0f;
  gm.tied = true;
  gm.seed = 9;
  out.push_back(gm);
  ModelShape gd;  // gemma3 defaults: no window (all layers global), no soft-cap, untied
  gd.arch = "gemma3";
  gd.seed = 10;
  out.push_back(gd);
  ModelShape g2;  // gemma2: window 4 every other layer (default period 2), soft-capped attention
  g2.arch = "gemma2";  // scores (cap 0.5 here, so that it bites) and logits (default 30), tied
  g2.n_layer = 3;
  g2.sliding_window = 4;
  g2.attn_softcap = 0.5f;
  g2.head_dim = 32;
  g2.tied = true;
  g2.seed = 11;
  out.push_back(g2);
  ModelShape mx;  // llama with a Mixtral-style mixture: 4 experts, 2 per token, GQA 4:2
  mx.n_expert = 4;
  mx.n_expert_used = 2;
  mx.n_head_kv = 2;
  mx.seed = 13;
  out.push_back(mx);
  ModelShape qm;  // qwen3moe: q/k norms, 6 experts of 64, 3 per token, heads of 32
  qm.arch = "qwen3moe";
  qm.n_expert = 6;
  qm.n_expert_used = 3;
  qm.n_ff_exp = 64;
  qm.head_dim = 32;
  qm.tied = true;
  qm.seed = 14;
  out.push_back(qm);
  ModelShape sm;  // smollm3: layer 3 of 4 without RoPE, GQA 4:2
  sm.arch = "smollm3";
  sm.n_layer = 4;
  sm.n_head_kv = 2;
  sm.seed = 15;
  out.push_back(sm);
  ModelShape o2;  // olmo2: no pre-norms, post-norms, q/k normalised over their whole width, GQA 4:2
  o2.arch = "olmo2";
  o2.n_head_kv = 2;
  o2.seed = 16;
  out.push_back(o2);
  ModelShape o3 = o2;  // OLMo 3: window 5 in layers 0-2 (unscaled RoPE), layer 3 global, scaled by 2
  o3.n_layer = 4;
  o3.sliding_window = 5;
  o3.rope_linear_factor = 2.0f;
  o3.seed = 17;
  out.push_back(o3);
  ModelShape gr;  // granite: embedding, attention, residual and logit scalars, GQA 4:2
  gr.arch = "granite";
  gr.n_head_kv = 2;
  gr.embedding_scale = 12.0f;
  gr.attention_scale = 0.0625f;
  gr.residual_scale = 0.22f;
  gr.logit_scale = 8.0f;
  gr.seed = 18;
  out.push_back(gr);
  ModelShape gn = gr;  // ... and with RoPE switched off (rope.scaling.finetuned = false)
  gn.rope_off = true;
  gn.seed = 19;
  out.push_back(gn);
  ModelShape q2m;  // qwen2moe: biases, 4 experts of 32 (2 used, not renormalised), a shared expert
  q2m.arch = "qwen2moe";
  q2m.n_expert = 4;
  q2m.n_expert_used = 2;
  q2m.n_ff_exp = 32;
  q2m.seed = 20;
  out.push_back(q2m);
  ModelShape gmoe = gr;  // granitemoe: granite's scalars, 4 experts of n_ff (2 used), an ungated shared expert of 64
  gmoe.arch = "granitemoe";
  gmoe.n_expert = 4;
  gmoe.n_expert_used = 2;
  gmoe.n_ff_shexp = 64;
  gmoe.seed = 21;
  out.push_back(gmoe);
  ModelShape cr;  // command-r: LayerNorms, attention and FFN in parallel, logits times 0.0625, tied, GQA 4:2
  cr.arch = "command-r";
  cr.n_head_kv = 2;
  cr.tied = true;
  cr.logit_scale = 0.0625f;
  cr.seed = 22;
  out.push_back(cr);
  ModelShape c2 = cr;  // cohere2: 4 layers, window 5 in layers 0-2 (RoPE), layer 3 global without RoPE
  c2.arch = "cohere2";
  c2.n_layer = 4;
  c2.sliding_window = 5;
  c2.seed = 23;
  out.push_back(c2);
  ModelShape crp = cr;  // Command R+: command-r with 64 layers, so each head of q and k is LayerNorm-ed
  crp.n_layer = 64;
  crp.qk_norm_per_head = true;
  crp.seed = 28;
  out.push_back(crp);
  ModelShape lb;  // llama with every optional bias llama.cpp applies (q/k/v, attn_output, FFN), GQA 4:2
  lb.n_head_kv = 2;
  lb.biases = true;
  lb.seed = 24;
  out.push_back(lb);
  ModelShape gb = gr;  // granite with biases
  gb.biases = true;
  gb.seed = 25;
  out.push_back(gb);
  // mistral3: YaRN x4 over an original context of 4 with a log multiplier, and the temperature
  // tuning, which scales q by 1 + 0.1 ln 2 from position 4 and 1 + 0.1 ln 3 from 8.
  ModelShape m3;
  m3.arch = "mistral3";
  m3.n_head_kv = 2;
  m3.rope_yarn_factor = 4;
  m3.n_ctx_orig = 4;
  m3.yarn_log_mul = 0.5f;
  m3.attn_temp_scale = 0.1f;
  m3.seed = 26;
  out.push_back(m3);
  // mistral3 with its own YaRN betas: over an original context of 2048, beta_fast 4 and
  // beta_slow 0.25 ramp over rotation pairs 3-7 where the defaults (32, 1) would take 2-6.
  ModelShape m3b = m3;
  m3b.n_ctx_orig = 2048;
  m3b.yarn_beta_fast = 4;
  m3b.yarn_beta_slow = 0.25f;
  m3b.yarn_log_mul = 1;
  m3b.seed = 27;
  out.push_back(m3b);
  // gpt-oss: heads of 32 (q wider than n_embd), GQA 4:2, window 5 in layers 0 and 2 of 3,
  // YaRN x4 over an original context of 4, sinks, and 4 experts of 64 with biases (2 used).
  ModelShape oss;
  oss.arch = "gpt-oss";
  oss.n_layer = 3;
  oss.n_head_kv = 2;
  oss.head_dim = 32;
  oss.sliding_window = 5;
  oss.rope_yarn_factor = 4;
  oss.n_ctx_orig = 4;
  oss.n_expert = 4;
  oss.n_expert_used = 2;
  oss.n_ff_exp = 64;
  oss.seed = 29;
  out.push_back(oss);
  ModelShape g1;  // gemma: embedding scale and GELU only
  g1.arch = "gemma";
  g1.tied = true;
  g1.seed = 12;
  out.push_back(g1);
  return out;
}

struct TypeCase {
  TensorType type;
  double tol;  // relative to the largest reference logit
};

// Tolerances (max |engine - reference| / max |reference logit|, worst position).  F32 is the
// issue's 1e-4.  The others compare with the *dequantized* weights in double, so what remains is
// the engine's own rounding.  F16/BF16: 1e-3 (measured <= 6e-7 today because the kernels convert
// weights to f32; the bound allows f16-rounded activations, as ggml's F16 path uses).  Q8_0,
// Q4_0, Q4_1, Q5_0, Q5_1, MXFP4 and the K-quants quantize the activations to 8-bit blocks as ggml does:
// 5e-2 (measured 1.2e-2 .. 2.8e-2 on these random models).
const TypeCase kTypes[] = {
    {TensorType::kF32, 1e-4},  {TensorType::kF16, 1e-3},  {TensorType::kBF16, 1e-3},
    {TensorType::kQ8_0, 5e-2}, {TensorType::kQ4_0, 5e-2}, {TensorType::kQ4_1, 5e-2},
    {TensorType::kQ5_0, 5e-2}, {TensorType::kQ5_1, 5e-2}, {TensorType::kMXFP4, 5e-2},
};

const std::vector<int> kPrompt = {1, 5, 9, 3, 7, 42, 11, 2, 60, 13, 17, 4};

class ForwardTest : public ::testing::TestWithParam<std::tuple<ModelShape, TypeCase>> {};

TEST_P(ForwardTest, MatchesReferenceBatchedAndOneByOne) {
  auto [shape, tc] = GetParam();
  shape.type = tc.type;
  // olmo2 feeds the un-normalised residual stream to its matrices, so the 8-bit activations of
  // the quantized types carry more error (measured up to 5.5e-2 on these models): 1.5x.
  if (shape.arch == "olmo2" && tc.tol >= 5e-2) tc.tol *= 1.5;
  test::TempDir dir;
  const std::string path = dir.file("m.gguf");
  ASSERT_TRUE(test::write_model(shape, path).ok());
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file.ok());
  const auto ref = test::reference_logits(**file, kPrompt);

  ContextParams cp;
  cp.n_threads = 2;
  auto batched = Context::create(**model, cp);
  ASSERT_TRUE(batched.ok());
  std::vector<int32_t> ids(kPrompt.begin(), kPrompt.end());
  ASSERT_TRUE((*batched)->eval(ids, /*all_logits=*/true).ok());
  const double err_batched = relative_error(ref, [&](size_t t) { return (*batched)->logits_at(t); });
  EXPECT_LE(err_batched, tc.tol) << shape.name();

  auto single = Context::create(**model, cp);
  ASSERT_TRUE(single.ok());
  std::vector<std::vector<float>> one_by_one;
  for (int32_t id : ids) {
    ASSERT_TRUE((*single)->eval(std::span<const int32_t>(&id, 1)).ok());
    auto l = (*single)->logits();
    one_by_one.emplace_back(l.begin(), l.end());
  }
  const double err_single =
      relative_error(ref, [&](size_t t) { return std::span<const float>(one_by_one[t]); });
  EXPECT_LE(err_single, tc.tol) << shape.name();
  // Batched (matmul) and one-by-one (matvec) are the same computation up to float rounding.
  double max_d = 0;
  for (size_t t = 0; t < ids.size(); ++t) {
    auto b = (*batched)->logits_at(t);
    for (size_t v = 0; v < b.size(); ++v) max_d = std::max(max_d, std::abs(double(b[v]) - one_by_one[t][v]));
  }
  EXPECT_LE(max_d, tc.tol * 10) << shape.name();
  RecordProperty("err_" + shape.name(), std::to_string(err_batched));
  std::printf("  %-40s batched %.2e  one-by-one %.2e\n", shape.name().c_str(), err_batched, err_single);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ForwardTest, ::testing::Combine(::testing::ValuesIn(shapes()), ::testing::ValuesIn(kTypes)),
                         [](const auto& info) {
                           std::string n = std::get<0>(info.param).name();
                           for (auto& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n + "_" + std::to_string(info.index);
                         });

// A KV cache of `type` (ContextParams::kv_type) against the reference that rounds keys and
// values the same way: batched and one by one, 1 and 2 threads, for the shapes given.  `tol` is
// against that reference; the exact reference must be within `tol_exact` (the rounding is small)
// and, where `min_exact` > 0, at least that far (the rounding is really there).
void check_kv_cache_type(TensorType type, const std::vector<ModelShape>& cases, double tol, double tol_exact,
                         double min_exact) {
  for (const ModelShape& shape : cases) {
    test::TempDir dir;
    const std::string path = dir.file("m.gguf");
    ASSERT_TRUE(test::write_model(shape, path).ok());
    auto model = Model::load(path);
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    auto file = gguf::File::open(path);
    ASSERT_TRUE(file.ok());
    const auto ref = test::reference_logits(**file, kPrompt, 0, type);
    const auto exact = test::reference_logits(**file, kPrompt);
    std::vector<int32_t> ids(kPrompt.begin(), kPrompt.end());
    for (int threads : {1, 2}) {
      ContextParams cp;
      cp.n_threads = threads;
      cp.kv_type = type;
      auto batched = Context::create(**model, cp);
      ASSERT_TRUE(batched.ok()) << batched.status().to_string();
      ASSERT_TRUE((*batched)->eval(ids, /*all_logits=*/true).ok());
      const double err = relative_error(ref, [&](size_t t) { return (*batched)->logits_at(t); });
      EXPECT_LE(err, tol) << shape.name() << " " << threads << " threads";
      const double err_exact = relative_error(exact, [&](size_t t) { return (*batched)->logits_at(t); });
      EXPECT_LE(err_exact, tol_exact) << shape.name();
      EXPECT_GE(err_exact, min_exact) << shape.name();
      std::printf("  %s KV %-30s %d threads: %.2e against rounded keys and values, %.2e against exact\n",
                  tensor_type_name(type).data(), shape.name().c_str(), threads, err, err_exact);
      auto single = Context::create(**model, cp);
      ASSERT_TRUE(single.ok());
      for (size_t t = 0; t < ids.size(); ++t) {
        ASSERT_TRUE((*single)->eval(std::span<const int32_t>(&ids[t], 1)).ok());
        const std::vector<std::vector<double>> one(1, ref[t]);
        const double e = relative_error(one, [&](size_t) { return (*single)->logits(); });
        EXPECT_LE(e, tol) << shape.name() << " position " << t;
      }
    }
  }
}

// f16: GQA, a single KV head, and qwen2's biases.  The products stay f32, so it agrees as
// closely as the f32 cache agrees with the exact reference (measured 3e-7 to 4e-6), while the
// f16 rounding itself moves the logits by 3-4e-4: the tolerance tells the two apart.
TEST(Forward, F16KvCacheMatchesReferenceWithF16KeysAndValues) {
  std::vector<ModelShape> cases(3);
  cases[0].n_head = 8, cases[0].n_head_kv = 2, cases[0].n_layer = 3, cases[0].seed = 21;
  cases[1].n_embd = 96, cases[1].n_head = 6, cases[1].n_head_kv = 1, cases[1].seed = 22;
  cases[2].arch = "qwen2", cases[2].n_embd = 96, cases[2].n_head = 6, cases[2].n_head_kv = 2, cases[2].seed = 23;
  check_kv_cache_type(TensorType::kF16, cases, 2e-5, 1e-2, 1e-4);
}

// q8_0: the same shapes with heads of 32 and 64 values (one and two blocks).
TEST(Forward, Q8_0KvCacheMatchesReferenceWithQ8_0KeysAndValues) {
  std::vector<ModelShape> cases(3);
  cases[0].n_embd = 128, cases[0].n_head = 4, cases[0].n_head_kv = 2, cases[0].n_layer = 3, cases[0].seed = 31;
  cases[1].n_embd = 192, cases[1].n_head = 6, cases[1].n_head_kv = 1, cases[1].seed = 32;
  cases[2].arch = "qwen2", cases[2].n_embd = 128, cases[2].n_head = 2, cases[2].n_head_kv = 1, cases[2].seed = 33;
  check_kv_cache_type(TensorType::kQ8_0, cases, 2e-5, 5e-2, 1e-3);
}

// Cache types the engine does not store, and q8_0 with heads that are not whole blocks, fail at
// create() with a message.
TEST(Forward, KvCacheTypeIsCheckedAtCreate) {
  test::TempDir dir;
  ModelShape s;  // heads of 16 values
  ASSERT_TRUE(test::write_model(s, dir.file("m.gguf")).ok());
  auto model = Model::load(dir.file("m.gguf"));
  ASSERT_TRUE(model.ok());
  ContextParams bad;
  bad.kv_type = TensorType::kQ4_0;
  auto ctx = Context::create(**model, bad);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("expected f32, f16 or q8_0"), std::string::npos) << ctx.status().message();
  bad.kv_type = TensorType::kQ8_0;
  ctx = Context::create(**model, bad);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("head size is 16; use f16 or f32"), std::string::npos) << ctx.status().message();
}

TEST(Forward, KQuantsMatchReference) {
  // K-quants need rows that are multiples of 256.
  for (TensorType type : {TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K}) {
    ModelShape s;
    s.n_embd = 256;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.n_ff = 512;
    s.n_layer = 1;
    s.n_vocab = 64;
    s.type = type;
    test::TempDir dir;
    ASSERT_TRUE(test::write_model(s, dir.file("k.gguf")).ok());
    auto model = Model::load(dir.file("k.gguf"));
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    auto file = gguf::File::open(dir.file("k.gguf"));
    const std::vector<int> prompt = {1, 2, 3, 4, 5};
    const auto ref = test::reference_logits(**file, prompt);
    auto ctx = Context::create(**model, {.n_ctx = 16, .n_batch = 8, .n_threads = 2});
    std::vector<int32_t> ids(prompt.begin(), prompt.end());
    ASSERT_TRUE((*ctx)->eval(ids, true).ok());
    const double err = relative_error(ref, [&](size_t t) { return (*ctx)->logits_at(t); });
    // Q8_K activations (as ggml): same tolerance as Q8_0/Q4_0.
    EXPECT_LE(err, 5e-2) << tensor_type_name(type);
    std::printf("  %-6s %.2e\n", std::string(tensor_type_name(type)).c_str(), err);
  }
}

// A Q4_K_M / Q5_K_M file of a model whose n_embd (96) is not a multiple of 256, as plumb synth
// writes it following llama.cpp: most matrices fall back to q5_0 / q5_1, the output and one
// attn_v to q8_0, ffn_down (rows of n_ff = 256) stays q4_K / q5_K / q6_K.  Both prompt
// processing (matmul) and decoding (matvec) against the reference.
TEST(Forward, KQuantMixWithFallbackTypesMatchesReference) {
  for (const char* mix : {"q4_K_M", "q5_K_M"}) {
    gguf::SynthSpec s = *gguf::synth_preset("tiny");
    s.arch = "qwen2";
    s.n_embd = 96, s.n_ff = 256, s.n_layer = 2, s.n_head = 6, s.n_head_kv = 2, s.n_ctx = 64;
    s.seed = 5;
    ASSERT_TRUE(gguf::set_synth_type(s, mix).ok());
    test::TempDir dir;
    const std::string path = dir.file("mix.gguf");
    ASSERT_TRUE(gguf::synth_write(s, path).ok());
    auto file = gguf::File::open(path);
    ASSERT_TRUE(file.ok());
    const TensorType fallback = s.type == TensorType::kQ4_K ? TensorType::kQ5_0 : TensorType::kQ5_1;
    ASSERT_EQ((*file)->find_tensor("blk.0.attn_q.weight")->type, fallback) << mix;
    ASSERT_EQ((*file)->find_tensor("output.weight")->type, TensorType::kQ8_0) << mix;
    ASSERT_EQ((*file)->find_tensor("blk.0.ffn_down.weight")->type, s.type) << mix;
    auto model = Model::load(path);
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    const auto ref = test::reference_logits(**file, kPrompt);
    auto ctx = Context::create(**model, {.n_ctx = 32, .n_batch = 16, .n_threads = 2});
    ASSERT_TRUE(ctx.ok());
    std::vector<int32_t> ids(kPrompt.begin(), kPrompt.end());
    ASSERT_TRUE((*ctx)->eval(ids, true).ok());
    const double err = relative_error(ref, [&](size_t t) { return (*ctx)->logits_at(t); });
    auto single = Context::create(**model, {.n_ctx = 32, .n_batch = 16, .n_threads = 2});
    ASSERT_TRUE(single.ok());
    std::vector<std::vector<float>> one_by_one;
    for (int32_t id : ids) {
      ASSERT_TRUE((*single)->eval(std::span<const int32_t>(&id, 1)).ok());
      auto l = (*single)->logits();
      one_by_one.emplace_back(l.begin(), l.end());
    }
    const double err_single = relative_error(ref, [&](size_t t) { return std::span<const float>(one_by_one[t]); });
    // Q8_0 / Q8_K activations: the same tolerance as the single-type models.
    EXPECT_LE(err, 5e-2) << mix;
    EXPECT_LE(err_single, 5e-2) << mix;
    std::printf("  %-6s batched %.2e  one-by-one %.2e\n", mix, err, err_single);
  }
}

// A written and loaded model whose logits for kPrompt can be compared with the reference.
struct LoadedShape {
  test::TempDir dir;
  std::unique_ptr<Model> model;
  std::unique_ptr<gguf::File> file;
  explicit LoadedShape(const ModelShape& s) {
    const std::string path = dir.file("m.gguf");
    EXPECT_TRUE(test::write_model(s, path).ok());
    auto m = Model::load(path);
    EXPECT_TRUE(m.ok()) << m.status().to_string();
    if (m.ok()) model = std::move(*m);
    auto f = gguf::File::open(path);
    if (f.ok()) file = std::move(*f);
  }
  // The engine's logits for kPrompt in a context of n_ctx, evaluated n_batch tokens at a time.
  std::vector<std::vector<float>> logits(int32_t n_ctx, int32_t n_batch) const {
    auto ctx = Context::create(*model, {.n_ctx = n_ctx, .n_batch = n_batch, .n_threads = 2});
    EXPECT_TRUE(ctx.ok());
    std::vector<int32_t> ids(kPrompt.begin(), kPrompt.end());
    EXPECT_TRUE((*ctx)->eval(ids, true).ok());
    std::vector<std::vector<float>> out;
    for (size_t t = 0; t < ids.size(); ++t) out.emplace_back((*ctx)->logits_at(t).begin(), (*ctx)->logits_at(t).end());
    return out;
  }
  // Their largest distance to the reference's logits for a context of ref_n_ctx, relative to the
  // largest reference logit.
  double error(const std::vector<std::vector<float>>& got, int64_t ref_n_ctx) const {
    const auto ref = test::reference_logits(*file, kPrompt, ref_n_ctx);
    return relative_error(ref, [&](size_t t) { return std::span<const float>(got[t]); });
  }
};

TEST(Forward, RopeScalingFreqFactorsAndSlidingWindow) {
  ModelShape s;
  s.rope_linear_factor = 4.0f;
  s.rope_freqs = true;
  s.sliding_window = 5;
  LoadedShape m(s);
  ASSERT_TRUE(m.model && m.file);
  EXPECT_FLOAT_EQ(m.model->hparams().rope_freq_scale, 0.25f);
  EXPECT_TRUE(m.model->hparams().has_rope_freqs);
  EXPECT_EQ(m.model->hparams().sliding_window, 5);
  EXPECT_LE(m.error(m.logits(32, 4), 32), 1e-4);  // 3 chunks
}

// YaRN (Qwen2.5 / Qwen3 long-context files): an original context of 4096 puts the ramp between
// interpolated and original angles over rotation pairs 2-6 of the 8 of a 16-dim head.
TEST(Forward, YarnScalingMatchesReference) {
  for (const char* arch : {"llama", "qwen2"}) {
    ModelShape s;
    s.arch = arch;
    s.rope_yarn_factor = 4.0f;
    s.n_ctx_orig = 4096;
    s.seed = 31;
    LoadedShape m(s);
    ASSERT_TRUE(m.model && m.file);
    EXPECT_TRUE(m.model->hparams().rope_yarn);
    EXPECT_FLOAT_EQ(m.model->hparams().rope_freq_scale, 0.25f);
    const auto got = m.logits(64, 5);
    EXPECT_LE(m.error(got, 64), 1e-4) << arch;
    // Plain linear scaling by the same factor is a different model: YaRN is visible.
    s.rope_yarn_factor = 0;
    s.rope_linear_factor = 4.0f;
    LoadedShape linear(s);
    ASSERT_TRUE(linear.file);
    EXPECT_GT(linear.error(got, 64), 1e-2) << arch;
  }
}

// LongRoPE as Phi-3.5-mini has it: a context above the original 64 positions rotates with the
// long factors, one within it with the short ones, both with cos/sin scaled by attn_factor.
TEST(Forward, LongRopePicksFactorsByContextSize) {
  ModelShape s;
  s.arch = "phi3";
  s.long_rope = true;
  s.n_ctx = 256;
  s.n_ctx_orig = 64;
  s.rope_attn_factor = 1.19f;
  LoadedShape m(s);
  ASSERT_TRUE(m.model && m.file);
  EXPECT_TRUE(m.model->hparams().has_long_rope);
  EXPECT_EQ(m.model->hparams().n_ctx_orig, 64);
  for (int32_t n_ctx : {64, 256}) {
    const auto got = m.logits(n_ctx, 5);
    EXPECT_LE(m.error(got, n_ctx), 1e-4) << n_ctx;
    // The other factor set gives other logits: the choice is visible.
    EXPECT_GT(m.error(got, n_ctx == 64 ? 256 : 64), 1e-2) << n_ctx;
  }
}

// Every architecture as `plumb synth` writes it (the files the docs' llama.cpp cross-checks use)
// loads and matches the reference forward pass: synth and the loader agree on every tensor and key.
struct SynthCase {
  const char* label;
  std::function<void(gguf::SynthSpec&)> edit;
};
void PrintTo(const SynthCase& c, std::ostream* os) { *os << c.label; }

std::vector<SynthCase> synth_cases() {
  return {
      {"llama", [](gguf::SynthSpec&) {}},
      {"llama_experts", [](gguf::SynthSpec& s) { s.n_expert = 4, s.n_expert_used = 2; }},
      {"llama_yarn", [](gguf::SynthSpec& s) { s.yarn_factor = 4; }},
      {"qwen2", [](gguf::SynthSpec& s) { s.arch = "qwen2"; }},
      {"qwen3", [](gguf::SynthSpec& s) { s.arch = "qwen3", s.head_dim = 32; }},
      {"qwen2moe", [](gguf::SynthSpec& s) { s.arch = "qwen2moe", s.n_expert = 4, s.n_expert_used = 2, s.n_ff_exp = 64; }},
      {"qwen3moe", [](gguf::SynthSpec& s) { s.arch = "qwen3moe", s.n_expert = 4, s.n_expert_used = 2, s.n_ff_exp = 64; }},
      {"phi3", [](gguf::SynthSpec& s) { s.arch = "phi3"; }},
      {"phi3_longrope", [](gguf::SynthSpec& s) { s.arch = "phi3", s.long_rope = true; }},
      {"gemma", [](gguf::SynthSpec& s) { s.arch = "gemma", s.tied_output = true; }},
      {"gemma2", [](gguf::SynthSpec& s) { s.arch = "gemma2", s.sliding_window = 4, s.tied_output = true; }},
      {"gemma3", [](gguf::SynthSpec& s) { s.arch = "gemma3", s.n_layer = 7, s.sliding_window = 3; }},
      {"smollm3", [](gguf::SynthSpec& s) { s.arch = "smollm3", s.n_layer = 4; }},
      {"olmo2", [](gguf::SynthSpec& s) { s.arch = "olmo2"; }},
      {"olmo2_window", [](gguf::SynthSpec& s) { s.arch = "olmo2", s.n_layer = 4, s.sliding_window = 3; }},
      {"granite", [](gguf::SynthSpec& s) { s.arch = "granite"; }},
      {"command_r", [](gguf::SynthSpec& s) { s.arch = "command-r"; }},
      {"command_r_plus", [](gguf::SynthSpec& s) { s.arch = "command-r", s.n_layer = 64; }},
      {"ernie4_5", [](gguf::SynthSpec& s) { s.arch = "ernie4_5", s.head_dim = 32, s.tied_output = true; }},
      {"cohere2", [](gguf::SynthSpec& s) { s.arch = "cohere2", s.n_layer = 4, s.sliding_window = 3; }},
      {"mistral3", [](gguf::SynthSpec& s) { s.arch = "mistral3", s.yarn_factor = 64; }},
      {"granitemoe", [](gguf::SynthSpec& s) { s.arch = "granitemoe", s.n_expert = 4, s.n_expert_used = 2; }},
      {"granitemoe_shared",
       [](gguf::SynthSpec& s) { s.arch = "granitemoe", s.n_expert = 4, s.n_expert_used = 2, s.n_ff_shexp = 48; }},
      {"gpt_oss",
       [](gguf::SynthSpec& s) {
         s.arch = "gpt-oss", s.head_dim = 32, s.n_expert = 4, s.n_expert_used = 2, s.n_ff_exp = 64, s.yarn_factor = 8;
         s.sliding_window = 5;
       }},
  };
}

class SynthArchs : public ::testing::TestWithParam<SynthCase> {};

TEST_P(SynthArchs, LoadAndMatchReference) {
  gguf::SynthSpec spec = *gguf::synth_preset("tiny");
  spec.seed = 3;
  GetParam().edit(spec);
  test::TempDir dir;
  const std::string path = dir.file("m.gguf");
  ASSERT_TRUE(gguf::synth_write(spec, path).ok());
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EXPECT_EQ((*model)->hparams().arch, spec.arch);
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file.ok());
  // n_ctx 64: above phi3_longrope's original 16, so its long factors are in use.
  const auto ref = test::reference_logits(**file, kPrompt, 64);
  auto ctx = Context::create(**model, {.n_ctx = 64, .n_batch = 5, .n_threads = 2});
  ASSERT_TRUE(ctx.ok());
  std::vector<int32_t> ids(kPrompt.begin(), kPrompt.end());
  ASSERT_TRUE((*ctx)->eval(ids, true).ok());
  const double err = relative_error(ref, [&](size_t t) { return (*ctx)->logits_at(t); });
  EXPECT_LE(err, 1e-4) << GetParam().label;
  std::printf("  %-14s vs reference %.2e\n", GetParam().label, err);
}

INSTANTIATE_TEST_SUITE_P(Archs, SynthArchs, ::testing::ValuesIn(synth_cases()),
                         [](const auto& info) { return std::string(info.param.label); });

TEST(Forward, GreedyIdenticalForOneAndTwoThreads) {
  ModelShape s = shapes()[2];
  s.type = TensorType::kQ8_0;
  test::TempDir dir;
  ASSERT_TRUE(test::write_model(s, dir.file("m.gguf")).ok());
  auto model = Model::load(dir.file("m.gguf"));
  ASSERT_TRUE(model.ok());
  std::vector<std::vector<TokenId>> runs;
  for (int threads : {1, 2}) {
    auto ctx = Context::create(**model, {.n_ctx = 64, .n_batch = 512, .n_threads = threads});
    ASSERT_TRUE(ctx.ok());
    SamplerChain greedy;
    greedy.add(make_greedy());
    std::vector<TokenId> prompt = {1, 5, 9};
    GenerateOptions go;
    go.n_predict = 40;
    auto r = generate(**ctx, nullptr, greedy, prompt, go);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->tokens.size(), 40u);
    EXPECT_EQ(r->stop_reason, StopReason::kTokenLimit);
    for (float lp : r->logprobs) EXPECT_LE(lp, 0.0f);
    runs.push_back(r->tokens);
  }
  EXPECT_EQ(runs[0], runs[1]);
}

TEST(Forward, ContextFullIsOutOfRange) {
  ModelShape s;
  test::TempDir dir;
  ASSERT_TRUE(test::write_model(s, dir.file("m.gguf")).ok());
  auto model = Model::load(dir.file("m.gguf"));
  ASSERT_TRUE(model.ok());
  auto ctx = Context::create(**model, {.n_ctx = 8, .n_batch = 8, .n_threads = 1});
  std::vector<int32_t> six = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE((*ctx)->eval(six).ok());
  std::vector<int32_t> three = {1, 2, 3};
  Status st = (*ctx)->eval(three);
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange);
  EXPECT_NE(st.message().find("context is full"), std::string::npos) << st.message();
  EXPECT_EQ((*ctx)->n_past(), 6);  // nothing was evaluated
  std::vector<int32_t> bad = {1000};
  EXPECT_EQ((*ctx)->eval(bad).code(), StatusCode::kInvalidArgument);
  // Generation stops cleanly when the context fills up.
  (*ctx)->truncate(0);
  SamplerChain greedy;
  greedy.add(make_greedy());
  GenerateOptions go;
  go.n_predict = 100;
  std::vector<TokenId> p = {1, 2};
  auto r = generate(**ctx, nullptr, greedy, p, go);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stop_reason, StopReason::kContextFull);
  EXPECT_EQ(r->tokens.size(), 7u);  // positions 2..7 evaluated, plus the 7th sampled token
}

}  // namespace
}  // namespace plumb
