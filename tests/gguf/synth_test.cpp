// Synthetic models: presets, metadata keys and tensor names as real llama/qwen2 files
// have them, determinism, and the generated vocabulary.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <set>

#include "gguf/quantize.h"
#include "gguf/synth.h"
#include "plumb/gguf.h"
#include "support/test_support.h"

namespace plumb::gguf {
namespace {

// q4_K_M as llama.cpp's quantize lays it out for a 16-layer model (Llama-3.2-1B's depth):
// output q6_K; attn_v and ffn_down q6_K in layers 0, 1, 4, 7, 10, 13, 14, 15; the rest q4_K.
TEST(GgufSynth, KQuantMixMatchesLlamaCppLayerChoice) {
  test::TempDir dir;
  SynthSpec spec = *synth_preset("tiny");
  spec.n_embd = 256, spec.n_ff = 256, spec.n_layer = 16, spec.n_head = 4, spec.n_head_kv = 2;
  ASSERT_TRUE(set_synth_type(spec, "q4_K_M").ok());
  EXPECT_EQ(spec.type, TensorType::kQ4_K);
  EXPECT_TRUE(spec.k_mix);
  const std::string path = dir.file("mix.gguf");
  ASSERT_TRUE(synth_write(spec, path).ok());
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(*(*f)->get_int("general.file_type"), 15);  // LLAMA_FTYPE_MOSTLY_Q4_K_M
  const std::set<int> more_bits = {0, 1, 4, 7, 10, 13, 14, 15};
  auto type_of = [&](const std::string& name) { return (*f)->find_tensor(name)->type; };
  EXPECT_EQ(type_of("output.weight"), TensorType::kQ6_K);
  EXPECT_EQ(type_of("token_embd.weight"), TensorType::kQ4_K);
  EXPECT_EQ(type_of("output_norm.weight"), TensorType::kF32);
  for (int l = 0; l < 16; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const TensorType wide = more_bits.count(l) ? TensorType::kQ6_K : TensorType::kQ4_K;
    EXPECT_EQ(type_of(p + "attn_v.weight"), wide) << l;
    EXPECT_EQ(type_of(p + "ffn_down.weight"), wide) << l;
    for (const char* n : {"attn_q.weight", "attn_k.weight", "attn_output.weight", "ffn_gate.weight", "ffn_up.weight"})
      EXPECT_EQ(type_of(p + n), TensorType::kQ4_K) << p << n;
  }
  // Stored rows decode to the generator's scale (weights ~ N(0, 0.02^2)), not garbage.
  const TensorInfo* down = (*f)->find_tensor("blk.0.ffn_down.weight");
  std::vector<float> row(256);
  ASSERT_TRUE(dequantize_row(down->type, (*f)->tensor_data(*down).data(), row.data(), 256).ok());
  double ss = 0.0;
  for (float v : row) ss += double{v} * v;
  EXPECT_NEAR(std::sqrt(ss / 256), 0.02, 0.005);

  // A tied model stores token_embd as the output, and the mix needs a K-quant base type.
  spec.tied_output = true;
  ASSERT_TRUE(synth_write(spec, dir.file("tied.gguf")).ok());
  EXPECT_EQ((*File::open(dir.file("tied.gguf")))->find_tensor("token_embd.weight")->type, TensorType::kQ6_K);
  EXPECT_EQ(set_synth_type(spec, "q4_k_m").message(),
            "unknown weight type 'q4_k_m', expected one of f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, "
            "q6_K, q4_K_M, q5_K_M, mxfp4_moe");
  spec.type = TensorType::kQ8_0;
  EXPECT_EQ(synth_write(spec, dir.file("bad.gguf")).message(), "synth: a K-quant mix needs type q4_K or q5_K, not q8_0");
  spec.k_mix = false;
  ASSERT_TRUE(set_synth_type(spec, "q6_K").ok());
  spec.n_embd = 64;
  EXPECT_EQ(synth_write(spec, dir.file("bad.gguf")).message(),
            "synth: n_embd 64 and n_ff 256 must be multiples of q6_K's block size 256");
}

// Rows that are not a multiple of 256 cannot be K-quants; llama.cpp's llama_tensor_get_type then
// falls back: q4_K -> q5_0, q5_K -> q5_1, q6_K and the output -> q8_0, and f16 when the rows are
// not a multiple of 32 either (Qwen2-0.5B's n_embd 896 is such a shape; 96 here).
TEST(GgufSynth, KQuantMixFallsBackForRowsNotMultipleOf256) {
  test::TempDir dir;
  SynthSpec spec = *synth_preset("tiny");
  spec.n_embd = 96, spec.n_ff = 256, spec.n_layer = 2, spec.n_head = 4, spec.n_head_kv = 2;
  // Two layers: layer 1 (the last eighth) gets the "more bits" q6_K attn_v / ffn_down, layer 0 does not.
  struct Mix {
    const char* name;
    TensorType k, fallback;
    int file_type;
  };
  for (const Mix& mix : {Mix{"q4_K_M", TensorType::kQ4_K, TensorType::kQ5_0, 15},
                         Mix{"q5_K_M", TensorType::kQ5_K, TensorType::kQ5_1, 17}}) {
    ASSERT_TRUE(set_synth_type(spec, mix.name).ok());
    const std::string path = dir.file(std::string(mix.name) + ".gguf");
    ASSERT_TRUE(synth_write(spec, path).ok());
    auto f = File::open(path);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ(*(*f)->get_int("general.file_type"), mix.file_type);
    auto type_of = [&](const std::string& name) { return (*f)->find_tensor(name)->type; };
    EXPECT_EQ(type_of("token_embd.weight"), mix.fallback) << mix.name;
    EXPECT_EQ(type_of("output.weight"), TensorType::kQ8_0) << mix.name;
    for (const char* n : {"attn_q.weight", "attn_k.weight", "attn_output.weight", "ffn_gate.weight", "ffn_up.weight"}) {
      EXPECT_EQ(type_of(std::string("blk.0.") + n), mix.fallback) << mix.name << " " << n;
      EXPECT_EQ(type_of(std::string("blk.1.") + n), mix.fallback) << mix.name << " " << n;
    }
    EXPECT_EQ(type_of("blk.0.attn_v.weight"), mix.fallback) << mix.name;
    EXPECT_EQ(type_of("blk.1.attn_v.weight"), TensorType::kQ8_0) << mix.name;  // q6_K's fallback
    // ffn_down's rows are n_ff = 256 long: K-quants as usual.
    EXPECT_EQ(type_of("blk.0.ffn_down.weight"), mix.k) << mix.name;
    EXPECT_EQ(type_of("blk.1.ffn_down.weight"), TensorType::kQ6_K) << mix.name;
    // The fallback rows decode to the generator's scale.
    const TensorInfo* q = (*f)->find_tensor("blk.0.attn_q.weight");
    std::vector<float> w(96 * 96);
    ASSERT_TRUE(dequantize_row(q->type, (*f)->tensor_data(*q).data(), w.data(), 96 * 96).ok());
    double ss = 0.0;
    for (float v : w) ss += double{v} * v;
    EXPECT_NEAR(std::sqrt(ss / w.size()), 0.02, 0.002) << mix.name;
  }
  // Rows of 80 (not a multiple of 32): f16; and a tied output falls back like output.weight.
  spec.n_embd = 80;
  spec.tied_output = true;
  ASSERT_TRUE(set_synth_type(spec, "q4_K_M").ok());
  ASSERT_TRUE(synth_write(spec, dir.file("f16.gguf")).ok());
  auto f = File::open(dir.file("f16.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->find_tensor("blk.0.attn_q.weight")->type, TensorType::kF16);
  EXPECT_EQ((*f)->find_tensor("token_embd.weight")->type, TensorType::kF16);
  EXPECT_EQ((*f)->find_tensor("blk.0.ffn_down.weight")->type, TensorType::kQ4_K);
}

// The 32-element formats as whole-model types, with llama.cpp's file types for them.
TEST(GgufSynth, LegacyQuantTypes) {
  test::TempDir dir;
  SynthSpec spec = *synth_preset("tiny");
  struct Case {
    const char* name;
    TensorType type;
    int file_type;  // LLAMA_FTYPE_MOSTLY_Q4_1 / Q5_0 / Q5_1
  };
  for (const Case& c : {Case{"q4_1", TensorType::kQ4_1, 3}, Case{"q5_0", TensorType::kQ5_0, 8},
                        Case{"q5_1", TensorType::kQ5_1, 9}}) {
    ASSERT_TRUE(set_synth_type(spec, c.name).ok());
    EXPECT_EQ(spec.type, c.type);
    EXPECT_FALSE(spec.k_mix);
    ASSERT_TRUE(synth_write(spec, dir.file("m.gguf")).ok());
    auto f = File::open(dir.file("m.gguf"));
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ(*(*f)->get_int("general.file_type"), c.file_type) << c.name;
    EXPECT_EQ((*f)->find_tensor("blk.1.ffn_down.weight")->type, c.type) << c.name;
    EXPECT_EQ((*f)->find_tensor("output.weight")->type, c.type) << c.name;
  }
}

TEST(GgufSynth, TinyRoundTripHasLlamaLayout) {
  test::TempDir dir;
  auto spec = synth_preset("tiny");
  ASSERT_TRUE(spec.ok());
  spec->seed = 42;
  spec->type = TensorType::kQ8_0;
  const std::string path = dir.file("tiny.gguf");
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(synth_write(*spec, path).ok());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 2000.0) << "tiny synth must be fast: tests and benchmarks call it";

  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const File& m = **f;
  EXPECT_EQ(*m.get_string("general.architecture"), "llama");
  EXPECT_EQ(*m.get_int("general.file_type"), 7);  // LLAMA_FTYPE_MOSTLY_Q8_0
  EXPECT_EQ(*m.get_int("llama.embedding_length"), 64);
  EXPECT_EQ(*m.get_int("llama.block_count"), 2);
  EXPECT_EQ(*m.get_int("llama.attention.head_count"), 4);
  EXPECT_EQ(*m.get_int("llama.attention.head_count_kv"), 2);
  EXPECT_EQ(*m.get_int("llama.feed_forward_length"), 128);
  EXPECT_EQ(*m.get_int("llama.rope.dimension_count"), 16);
  EXPECT_EQ(*m.get_int("llama.context_length"), 512);
  EXPECT_EQ(*m.get_int("llama.vocab_size"), 320);
  EXPECT_FLOAT_EQ(static_cast<float>(*m.get_float("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  EXPECT_FLOAT_EQ(static_cast<float>(*m.get_float("llama.rope.freq_base")), 10000.0f);
  EXPECT_EQ(*m.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(m.get_string_array("tokenizer.ggml.tokens")->size(), 320u);
  EXPECT_EQ(m.get_float_array("tokenizer.ggml.scores")->size(), 320u);
  EXPECT_EQ(m.get_int_array("tokenizer.ggml.token_type")->size(), 320u);
  EXPECT_EQ(*m.get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(*m.get_int("tokenizer.ggml.eos_token_id"), 2);

  // name -> (shape, type): 2 + 9 per layer + token_embd/output.
  struct Expect { std::string name; std::vector<int64_t> shape; TensorType type; };
  std::vector<Expect> expect = {{"token_embd.weight", {64, 320}, TensorType::kQ8_0},
                                {"output_norm.weight", {64}, TensorType::kF32},
                                {"output.weight", {64, 320}, TensorType::kQ8_0}};
  for (int l = 0; l < 2; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    expect.push_back({p + "attn_norm.weight", {64}, TensorType::kF32});
    expect.push_back({p + "attn_q.weight", {64, 64}, TensorType::kQ8_0});
    expect.push_back({p + "attn_k.weight", {64, 32}, TensorType::kQ8_0});
    expect.push_back({p + "attn_v.weight", {64, 32}, TensorType::kQ8_0});
    expect.push_back({p + "attn_output.weight", {64, 64}, TensorType::kQ8_0});
    expect.push_back({p + "ffn_norm.weight", {64}, TensorType::kF32});
    expect.push_back({p + "ffn_gate.weight", {64, 128}, TensorType::kQ8_0});
    expect.push_back({p + "ffn_up.weight", {64, 128}, TensorType::kQ8_0});
    expect.push_back({p + "ffn_down.weight", {128, 64}, TensorType::kQ8_0});
  }
  EXPECT_EQ(m.tensors().size(), expect.size());
  for (const auto& e : expect) {
    const TensorInfo* t = m.find_tensor(e.name);
    ASSERT_NE(t, nullptr) << e.name;
    EXPECT_EQ(t->shape, e.shape) << e.name;
    EXPECT_EQ(t->type, e.type) << e.name;
  }

  // Weights look like N(0, 0.02), norms like 1.
  const TensorInfo* q = m.find_tensor("blk.0.attn_q.weight");
  std::vector<float> w(64 * 64);
  ASSERT_TRUE(dequantize_row(TensorType::kQ8_0, m.tensor_data(*q).data(), w.data(), 64 * 64).ok());
  double sum = 0, sum2 = 0;
  for (float x : w) sum += x, sum2 += double(x) * x;
  const double mean = sum / w.size(), sd = std::sqrt(sum2 / w.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(sd, 0.02, 0.002);
  const TensorInfo* n = m.find_tensor("blk.1.ffn_norm.weight");
  std::vector<float> nw(64);
  std::memcpy(nw.data(), m.tensor_data(*n).data(), 64 * 4);
  for (float x : nw) EXPECT_NEAR(x, 1.0f, 0.5f);
}

TEST(GgufSynth, DeterministicInSeedAndSeedMatters) {
  test::TempDir dir;
  auto spec = *synth_preset("tiny");
  spec.seed = 7;
  ASSERT_TRUE(synth_write(spec, dir.file("a.gguf")).ok());
  ASSERT_TRUE(synth_write(spec, dir.file("b.gguf")).ok());
  spec.seed = 8;
  ASSERT_TRUE(synth_write(spec, dir.file("c.gguf")).ok());
  const std::string a = test::read_file(dir.file("a.gguf"));
  EXPECT_EQ(a, test::read_file(dir.file("b.gguf")));
  const std::string c = test::read_file(dir.file("c.gguf"));
  EXPECT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);
}

TEST(GgufSynth, Qwen2TiedQ4HasBiasesAndNoOutput) {
  test::TempDir dir;
  auto spec = *synth_preset("tiny");
  spec.arch = "qwen2";
  spec.tied_output = true;
  spec.type = TensorType::kQ4_0;
  ASSERT_TRUE(synth_write(spec, dir.file("q.gguf")).ok());
  auto f = File::open(dir.file("q.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(*(*f)->get_string("general.architecture"), "qwen2");
  EXPECT_EQ(*(*f)->get_int("qwen2.embedding_length"), 64);
  EXPECT_EQ((*f)->find("llama.embedding_length"), nullptr);
  EXPECT_EQ(*(*f)->get_int("general.file_type"), 2);
  EXPECT_EQ((*f)->find_tensor("output.weight"), nullptr);
  const TensorInfo* kb = (*f)->find_tensor("blk.1.attn_k.bias");
  ASSERT_NE(kb, nullptr);
  EXPECT_EQ(kb->shape, (std::vector<int64_t>{32}));
  EXPECT_EQ(kb->type, TensorType::kF32);
  EXPECT_EQ((*f)->find_tensor("blk.0.attn_q.bias")->shape, (std::vector<int64_t>{64}));
  EXPECT_EQ((*f)->find_tensor("blk.0.attn_q.weight")->type, TensorType::kQ4_0);
  EXPECT_EQ((*f)->tensors().size(), 2u + 2u * 12u);
}

// Qwen3-0.6B's proportions: heads of 128 while n_embd / n_head is 64, so the query projection
// is wider than the embedding and attn_output narrows it back.
TEST(GgufSynth, Qwen3HasHeadNormsAndWideHeads) {
  test::TempDir dir;
  auto spec = *synth_preset("small");
  spec.arch = "qwen3";
  spec.head_dim = 64;  // n_embd 256 / 8 heads = 32
  spec.type = TensorType::kQ8_0;
  ASSERT_TRUE(synth_write(spec, dir.file("q3.gguf")).ok());
  auto f = File::open(dir.file("q3.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(*(*f)->get_string("general.architecture"), "qwen3");
  EXPECT_EQ(*(*f)->get_int("qwen3.attention.key_length"), 64);
  EXPECT_EQ(*(*f)->get_int("qwen3.attention.value_length"), 64);
  EXPECT_EQ(*(*f)->get_int("qwen3.rope.dimension_count"), 64);
  EXPECT_EQ((*f)->find_tensor("blk.0.attn_q.weight")->shape, (std::vector<int64_t>{256, 512}));
  EXPECT_EQ((*f)->find_tensor("blk.0.attn_k.weight")->shape, (std::vector<int64_t>{256, 256}));
  EXPECT_EQ((*f)->find_tensor("blk.0.attn_output.weight")->shape, (std::vector<int64_t>{512, 256}));
  const TensorInfo* qn = (*f)->find_tensor("blk.3.attn_q_norm.weight");
  ASSERT_NE(qn, nullptr);
  EXPECT_EQ(qn->shape, (std::vector<int64_t>{64}));
  EXPECT_EQ(qn->type, TensorType::kF32);
  EXPECT_NE((*f)->find_tensor("blk.3.attn_k_norm.weight"), nullptr);
  EXPECT_EQ((*f)->find_tensor("blk.0.attn_q.bias"), nullptr);
  EXPECT_EQ((*f)->tensors().size(), 3u + 4u * 11u);
  spec.head_dim = 7;
  EXPECT_EQ(synth_write(spec, dir.file("x.gguf")).message(), "synth: head_dim 7 must be even");
}

// Phi-3 as llama.cpp's converter writes it: q, k, v fused in attn_qkv, and ffn_up twice n_ff
// wide with no ffn_gate; a Q4_K_M mix stores attn_qkv one K-quant wider (q5_K), as llama.cpp does.
TEST(GgufSynth, Phi3FusesQkvAndGateUp) {
  test::TempDir dir;
  auto spec = *synth_preset("small");
  spec.arch = "phi3";
  ASSERT_TRUE(set_synth_type(spec, "q4_K_M").ok());
  ASSERT_TRUE(synth_write(spec, dir.file("p3.gguf")).ok());
  auto f = File::open(dir.file("p3.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const TensorInfo* qkv = (*f)->find_tensor("blk.2.attn_qkv.weight");
  ASSERT_NE(qkv, nullptr);
  EXPECT_EQ(qkv->shape, (std::vector<int64_t>{256, 256 + 2 * 128}));
  EXPECT_EQ(qkv->type, TensorType::kQ5_K);
  EXPECT_EQ((*f)->find_tensor("blk.2.ffn_up.weight")->shape, (std::vector<int64_t>{256, 2 * 768}));
  EXPECT_EQ((*f)->find_tensor("blk.2.ffn_up.weight")->type, TensorType::kQ4_K);
  for (const char* gone : {"blk.2.attn_q.weight", "blk.2.attn_k.weight", "blk.2.attn_v.weight", "blk.2.ffn_gate.weight"})
    EXPECT_EQ((*f)->find_tensor(gone), nullptr) << gone;
  EXPECT_EQ((*f)->tensors().size(), 3u + 4u * 6u);  // per layer: 2 norms, qkv, output, up, down
}

TEST(GgufSynth, Gemma3HasPostNormsAndWindow) {
  test::TempDir dir;
  auto spec = *synth_preset("tiny");
  spec.arch = "gemma3";
  spec.sliding_window = 16;
  ASSERT_TRUE(synth_write(spec, dir.file("g3.gguf")).ok());
  auto f = File::open(dir.file("g3.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(*(*f)->get_int("gemma3.attention.sliding_window"), 16);
  for (const char* n : {"blk.1.attn_q_norm.weight", "blk.1.attn_k_norm.weight"})
    EXPECT_EQ((*f)->find_tensor(n)->shape, (std::vector<int64_t>{16})) << n;
  for (const char* n : {"blk.1.post_attention_norm.weight", "blk.1.post_ffw_norm.weight"})
    EXPECT_EQ((*f)->find_tensor(n)->shape, (std::vector<int64_t>{64})) << n;
  // gemma2 has the post-norms but no q/k norms; gemma has llama's tensors only.
  spec.arch = "gemma2";
  ASSERT_TRUE(synth_write(spec, dir.file("g2.gguf")).ok());
  auto f2 = File::open(dir.file("g2.gguf"));
  ASSERT_TRUE(f2.ok());
  EXPECT_NE((*f2)->find_tensor("blk.0.post_ffw_norm.weight"), nullptr);
  EXPECT_EQ((*f2)->find_tensor("blk.0.attn_q_norm.weight"), nullptr);
  EXPECT_EQ((*f2)->tensors().size(), 3u + 2u * 11u);
  spec.arch = "gemma";
  ASSERT_TRUE(synth_write(spec, dir.file("g1.gguf")).ok());
  EXPECT_EQ((*File::open(dir.file("g1.gguf")))->tensors().size(), 3u + 2u * 9u);
  spec.sliding_window = -1;
  EXPECT_EQ(synth_write(spec, dir.file("x.gguf")).message(), "synth: sliding_window must be >= 0");
}

// Mixture of experts as Mixtral (arch llama) and qwen3moe files store it: an F32 router and 3-D
// expert stacks; Q4_K_M gives ffn_down_exps the more-bits layers' q6_K like ffn_down.
TEST(GgufSynth, ExpertsAreStackedTensors) {
  test::TempDir dir;
  auto spec = *synth_preset("small");
  spec.arch = "qwen3moe";
  spec.n_expert = 8;
  spec.n_expert_used = 2;
  spec.n_ff_exp = 256;
  ASSERT_TRUE(set_synth_type(spec, "q4_K_M").ok());
  ASSERT_TRUE(synth_write(spec, dir.file("moe.gguf")).ok());
  auto f = File::open(dir.file("moe.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(*(*f)->get_int("qwen3moe.expert_count"), 8);
  EXPECT_EQ(*(*f)->get_int("qwen3moe.expert_used_count"), 2);
  EXPECT_EQ(*(*f)->get_int("qwen3moe.expert_feed_forward_length"), 256);
  const TensorInfo* router = (*f)->find_tensor("blk.1.ffn_gate_inp.weight");
  ASSERT_NE(router, nullptr);
  EXPECT_EQ(router->shape, (std::vector<int64_t>{256, 8}));
  EXPECT_EQ(router->type, TensorType::kF32);
  EXPECT_EQ((*f)->find_tensor("blk.1.ffn_up_exps.weight")->shape, (std::vector<int64_t>{256, 256, 8}));
  EXPECT_EQ((*f)->find_tensor("blk.1.ffn_up_exps.weight")->type, TensorType::kQ4_K);
  EXPECT_EQ((*f)->find_tensor("blk.3.ffn_down_exps.weight")->type, TensorType::kQ6_K);  // the last eighth: more bits
  EXPECT_EQ((*f)->find_tensor("blk.1.ffn_gate.weight"), nullptr);
  spec.arch = "gemma";
  EXPECT_NE(synth_write(spec, dir.file("x.gguf")).message().find("experts:"), std::string::npos);
  spec.arch = "qwen3moe";
  spec.n_expert = 0;
  spec.n_expert_used = 0;
  EXPECT_NE(synth_write(spec, dir.file("x.gguf")).message().find("experts:"), std::string::npos);
}

// gpt-oss as llama.cpp's MXFP4_MOE file type stores it: experts MXFP4, every other matrix q8_0,
// biases on the router and the experts, sinks, and its keys.
TEST(GgufSynth, GptOssMxfp4MoeHasTheTensorsLlamaCppLoads) {
  test::TempDir dir;
  auto spec = *synth_preset("tiny");
  spec.arch = "gpt-oss";
  spec.head_dim = 32;
  spec.n_expert = 4;
  spec.n_expert_used = 2;
  spec.n_ff_exp = 96;
  ASSERT_TRUE(set_synth_type(spec, "mxfp4_moe").ok());
  EXPECT_EQ(spec.type, TensorType::kQ8_0);
  ASSERT_TRUE(synth_write(spec, dir.file("oss.gguf")).ok());
  auto f = File::open(dir.file("oss.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(*(*f)->get_int("general.file_type"), 38);  // LLAMA_FTYPE_MOSTLY_MXFP4_MOE
  EXPECT_EQ(*(*f)->get_int("gpt-oss.attention.sliding_window"), 128);
  EXPECT_EQ(*(*f)->get_int("gpt-oss.expert_feed_forward_length"), 96);
  auto type_of = [&](const std::string& n) {
    const TensorInfo* t = (*f)->find_tensor(n);
    EXPECT_NE(t, nullptr) << n;
    return t ? t->type : TensorType::kI8;
  };
  auto shape_of = [&](const std::string& n) {
    const TensorInfo* t = (*f)->find_tensor(n);
    return t ? t->shape : std::vector<int64_t>{};
  };
  for (const char* n : {"blk.1.ffn_gate_exps.weight", "blk.1.ffn_up_exps.weight", "blk.1.ffn_down_exps.weight"})
    EXPECT_EQ(type_of(n), TensorType::kMXFP4) << n;
  for (const char* n : {"token_embd.weight", "output.weight", "blk.1.attn_q.weight", "blk.1.attn_output.weight"})
    EXPECT_EQ(type_of(n), TensorType::kQ8_0) << n;
  EXPECT_EQ(type_of("blk.1.ffn_gate_inp.weight"), TensorType::kF32);
  EXPECT_EQ(shape_of("blk.1.attn_sinks.weight"), (std::vector<int64_t>{4}));
  EXPECT_EQ(shape_of("blk.1.ffn_gate_inp.bias"), (std::vector<int64_t>{4}));
  EXPECT_EQ(shape_of("blk.1.ffn_up_exps.bias"), (std::vector<int64_t>{96, 4}));
  EXPECT_EQ(shape_of("blk.1.ffn_down_exps.bias"), (std::vector<int64_t>{64, 4}));
  EXPECT_EQ(shape_of("blk.1.attn_output.bias"), (std::vector<int64_t>{64}));
  EXPECT_EQ(shape_of("blk.1.post_attention_norm.weight"), (std::vector<int64_t>{64}));
  EXPECT_EQ((*f)->find_tensor("blk.1.ffn_norm.weight"), nullptr);
  spec.arch = "llama";  // a dense model has nothing to store as MXFP4
  spec.n_expert = spec.n_expert_used = 0;
  EXPECT_NE(synth_write(spec, dir.file("x.gguf")).message().find("mxfp4_moe"), std::string::npos);
}

TEST(GgufSynth, RopeScalingKeys) {
  test::TempDir dir;
  auto spec = *synth_preset("tiny");
  spec.yarn_factor = 4.0f;
  ASSERT_TRUE(synth_write(spec, dir.file("y.gguf")).ok());
  auto f = File::open(dir.file("y.gguf"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*(*f)->get_string("llama.rope.scaling.type"), "yarn");
  EXPECT_FLOAT_EQ(static_cast<float>(*(*f)->get_float("llama.rope.scaling.factor")), 4.0f);
  EXPECT_EQ(*(*f)->get_int("llama.rope.scaling.original_context_length"), 512 / 4);
  spec.yarn_factor = 0.5f;
  EXPECT_EQ(synth_write(spec, dir.file("x.gguf")).message(), "synth: yarn_factor must be >= 1");

  spec = *synth_preset("tiny");
  spec.arch = "phi3";
  spec.long_rope = true;
  ASSERT_TRUE(synth_write(spec, dir.file("l.gguf")).ok());
  auto g = File::open(dir.file("l.gguf"));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*(*g)->get_int("phi3.rope.scaling.original_context_length"), 512 / 32);
  EXPECT_NEAR(*(*g)->get_float("phi3.rope.scaling.attn_factor"), std::sqrt(1 + std::log(32.0) / std::log(16.0)), 1e-6);
  EXPECT_EQ((*g)->find_tensor("rope_factors_long.weight")->shape, (std::vector<int64_t>{8}));
  EXPECT_NE((*g)->find_tensor("rope_factors_short.weight"), nullptr);
}

TEST(GgufSynth, RejectsInconsistentSpecs) {
  test::TempDir dir;
  auto spec = *synth_preset("tiny");
  spec.n_head = 5;
  EXPECT_EQ(synth_write(spec, dir.file("x.gguf")).message(), "synth: n_embd 64 is not a multiple of n_head 5");
  spec = *synth_preset("tiny");
  spec.n_ff = 100;
  spec.type = TensorType::kQ4_0;
  EXPECT_EQ(synth_write(spec, dir.file("x.gguf")).message(),
            "synth: n_embd 64 and n_ff 100 must be multiples of q4_0's block size 32");
  spec = *synth_preset("tiny");
  spec.arch = "qwen3";
  spec.head_dim = 10;
  spec.type = TensorType::kQ4_0;
  EXPECT_EQ(synth_write(spec, dir.file("x.gguf")).message(),
            "synth: n_embd 64, n_head * head_dim 40 and n_ff 128 must be multiples of q4_0's block size 32");
  EXPECT_EQ(synth_preset("huge").status().message(), "unknown preset 'huge', expected tiny, small or 1b");
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.gguf")));
}

TEST(GgufSynth, PresetShapes) {
  auto b = *synth_preset("1b");
  EXPECT_EQ(b.n_embd, 2048);
  EXPECT_EQ(b.n_layer, 16);
  EXPECT_EQ(b.n_head, 32);
  EXPECT_EQ(b.n_head_kv, 8);
  EXPECT_EQ(b.n_ff, 8192);
  EXPECT_EQ(b.n_vocab, 128256);
  EXPECT_EQ(b.n_ctx, 131072);
  auto s = *synth_preset("small");
  EXPECT_EQ(s.n_embd, 256);
  EXPECT_EQ(s.n_layer, 4);
  EXPECT_EQ(s.n_head, 8);
  EXPECT_EQ(s.n_head_kv, 4);
  EXPECT_EQ(s.n_ff, 768);
}

TEST(GgufSynth, GeneratedVocabularyIsSentencePieceStyle) {
  const SynthVocab v = synth_vocab(128256);
  ASSERT_EQ(v.tokens.size(), 128256u);
  ASSERT_EQ(v.scores.size(), 128256u);
  ASSERT_EQ(v.token_types.size(), 128256u);
  EXPECT_EQ(v.tokens[0], "<unk>");
  EXPECT_EQ(v.token_types[0], 2);
  EXPECT_EQ(v.tokens[1], "<s>");
  EXPECT_EQ(v.tokens[2], "</s>");
  EXPECT_EQ(v.token_types[2], 3);
  EXPECT_EQ(v.tokens[3], "<0x00>");
  EXPECT_EQ(v.tokens[3 + 0x41], "<0x41>");
  EXPECT_EQ(v.tokens[258], "<0xFF>");
  EXPECT_EQ(v.token_types[258], 6);
  EXPECT_EQ(v.tokens[259], "\xE2\x96\x81");
  std::set<std::string> unique(v.tokens.begin(), v.tokens.end());
  EXPECT_EQ(unique.size(), v.tokens.size());
  // Every prefix of a ▁-word is a token, so SentencePiece merges can reach "▁upon".
  for (const char* p : {"\xE2\x96\x81u", "\xE2\x96\x81up", "\xE2\x96\x81upo", "\xE2\x96\x81upon", "\xE2\x96\x81Once"})
    EXPECT_TRUE(unique.count(p)) << p;
  for (size_t i = 260; i < v.scores.size(); ++i) {
    ASSERT_EQ(v.token_types[i], 1);
    ASSERT_LT(v.scores[i], v.scores[i - 1]) << i;
  }
  // The small vocabulary is a prefix of the large one.
  const SynthVocab t = synth_vocab(320);
  EXPECT_TRUE(std::equal(t.tokens.begin(), t.tokens.end(), v.tokens.begin()));
}

TEST(GgufSynth, VocabCopiedFromAnotherFile) {
  PLUMB_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-llama-spm.gguf");
  test::TempDir dir;
  auto spec = *synth_preset("tiny");
  spec.vocab_path = vocab;
  ASSERT_TRUE(synth_write(spec, dir.file("v.gguf")).ok());
  auto src = File::open(vocab);
  auto f = File::open(dir.file("v.gguf"));
  ASSERT_TRUE(src.ok() && f.ok());
  const auto tokens = *(*src)->get_string_array("tokenizer.ggml.tokens");
  EXPECT_EQ(*(*f)->get_string_array("tokenizer.ggml.tokens"), tokens);
  EXPECT_EQ(*(*f)->get_int("llama.vocab_size"), static_cast<int64_t>(tokens.size()));
  EXPECT_EQ((*f)->find_tensor("token_embd.weight")->shape, (std::vector<int64_t>{64, static_cast<int64_t>(tokens.size())}));
  for (const auto& kv : (*src)->metadata())
    if (kv.key.rfind("tokenizer.", 0) == 0) {
      EXPECT_NE((*f)->find(kv.key), nullptr) << kv.key;
    }
}

}  // namespace
}  // namespace plumb::gguf
