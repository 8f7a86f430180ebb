// Malformed or unsupported models fail at load with an error naming the key or tensor.
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "model/model_fixture.h"
#include "plumb/model.h"
#include "support/test_support.h"

namespace plumb {
namespace {

struct ErrorCase {
  std::string what;
  test::ModelShape shape;
  test::ModelEdits edits;
  StatusCode code;
  std::string message;  // substring of the error
};

std::vector<ErrorCase> cases() {
  std::vector<ErrorCase> out;
  test::ModelShape llama;
  test::ModelShape qwen;
  qwen.arch = "qwen2";
  {
    ErrorCase c{"missing tensor", llama, {}, StatusCode::kNotFound, "tensor 'blk.1.ffn_up.weight' is missing"};
    c.edits.drop_tensors = {"blk.1.ffn_up.weight"};
    out.push_back(c);
  }
  {
    ErrorCase c{"missing key", llama, {}, StatusCode::kNotFound, "metadata key 'llama.block_count' is missing"};
    c.edits.drop_keys = {"llama.block_count"};
    out.push_back(c);
  }
  {
    ErrorCase c{"missing architecture", llama, {}, StatusCode::kNotFound, "'general.architecture' is missing"};
    c.edits.drop_keys = {"general.architecture"};
    out.push_back(c);
  }
  {
    ErrorCase c{"wrong shape", llama, {}, StatusCode::kCorrupt,
                "tensor 'blk.0.ffn_up.weight' has shape [64, 100], expected [64, 96]"};
    c.edits.reshape = [](const std::string& n, std::vector<int64_t>& s) {
      if (n == "blk.0.ffn_up.weight") s = {64, 100};
    };
    out.push_back(c);
  }
  {
    ErrorCase c{"qwen2 without bias", qwen, {}, StatusCode::kNotFound, "tensor 'blk.0.attn_k.bias' is missing"};
    c.edits.drop_tensors = {"blk.0.attn_k.bias"};
    out.push_back(c);
  }
  test::ModelShape qwen3;
  qwen3.arch = "qwen3";
  qwen3.head_dim = 32;
  {
    ErrorCase c{"qwen3 without q norm", qwen3, {}, StatusCode::kNotFound, "tensor 'blk.1.attn_q_norm.weight' is missing"};
    c.edits.drop_tensors = {"blk.1.attn_q_norm.weight"};
    out.push_back(c);
  }
  {
    ErrorCase c{"qwen3 k norm of the wrong size", qwen3, {}, StatusCode::kCorrupt,
                "tensor 'blk.0.attn_k_norm.weight' has shape [16], expected [32]"};
    c.edits.reshape = [](const std::string& n, std::vector<int64_t>& s) {
      if (n == "blk.0.attn_k_norm.weight") s = {16};
    };
    out.push_back(c);
  }
  {
    ErrorCase c{"qwen3 query width", qwen3, {}, StatusCode::kCorrupt,
                "tensor 'blk.0.attn_q.weight' has shape [64, 64], expected [64, 128]"};
    c.edits.reshape = [](const std::string& n, std::vector<int64_t>& s) {
      if (n == "blk.0.attn_q.weight") s = {64, 64};
    };
    out.push_back(c);
  }
  test::ModelShape phi3;
  phi3.arch = "phi3";
  {
    ErrorCase c{"phi3 without qkv", phi3, {}, StatusCode::kNotFound,
                "tensor 'blk.1.attn_q.weight' is missing (nor is there a fused 'blk.1.attn_qkv.weight')"};
    c.edits.drop_tensors = {"blk.1.attn_qkv.weight"};
    out.push_back(c);
  }
  {
    ErrorCase c{"fused qkv bias", phi3, {}, StatusCode::kUnsupported,
                "tensor 'blk.0.attn_qkv.bias': a bias on the fused attn_qkv is not supported yet"};
    c.edits.extra_vectors = {{"blk.0.attn_qkv.bias", 192}};
    out.push_back(c);
  }
  {
    ErrorCase c{"phi3 unfused up", phi3, {}, StatusCode::kCorrupt,
                "tensor 'blk.0.ffn_up.weight' has shape [64, 96], expected [64, 192]"};
    c.edits.reshape = [](const std::string& n, std::vector<int64_t>& s) {
      if (n == "blk.0.ffn_up.weight") s = {64, 96};
    };
    out.push_back(c);
  }
  {
    ErrorCase c{"longrope half", phi3, {}, StatusCode::kNotFound, "tensor 'rope_factors_short.weight' is missing"};
    c.edits.extra_vectors = {{"rope_factors_long.weight", 8}};
    out.push_back(c);
  }
  {
    ErrorCase c{"longrope size", phi3, {}, StatusCode::kCorrupt,
                "tensor 'rope_factors_short.weight' has shape [7], expected [8]"};
    c.edits.extra_vectors = {{"rope_factors_long.weight", 8}, {"rope_factors_short.weight", 7}};
    out.push_back(c);
  }
  test::ModelShape moe;
  moe.arch = "qwen3moe";
  moe.n_expert = 4;
  moe.n_expert_used = 2;
  moe.n_ff_exp = 32;
  {
    ErrorCase c{"moe without experts", moe, {}, StatusCode::kNotFound, "tensor 'blk.1.ffn_down_exps.weight' is missing"};
    c.edits.drop_tensors = {"blk.1.ffn_down_exps.weight"};
    out.push_back(c);
  }
  {
    ErrorCase c{"moe expert count", moe, {}, StatusCode::kNotFound,
                "'qwen3moe.expert_count' and 'qwen3moe.expert_used_count' must be > 0"};
    c.edits.drop_keys = {"qwen3moe.expert_count", "qwen3moe.expert_used_count"};
    out.push_back(c);
  }
  {
    ErrorCase c{"moe used > count", moe, {}, StatusCode::kCorrupt,
                "'qwen3moe.expert_used_count' (2) must be at most 'qwen3moe.expert_count' (0)"};
    c.edits.drop_keys = {"qwen3moe.expert_count"};
    out.push_back(c);
  }
  {
    ErrorCase c{"moe expert shape", moe, {}, StatusCode::kCorrupt,
                "tensor 'blk.0.ffn_gate_exps.weight' has shape [64, 32, 3], expected [64, 32, 4]"};
    c.edits.reshape = [](const std::string& n, std::vector<int64_t>& s) {
      if (n == "blk.0.ffn_gate_exps.weight") s = {64, 32, 3};
    };
    out.push_back(c);
  }
  {
    test::ModelShape q2m = moe;
    q2m.arch = "qwen2moe";
    ErrorCase c{"qwen2moe without shared expert", q2m, {}, StatusCode::kNotFound,
                "tensor 'blk.1.ffn_gate_inp_shexp.weight' is missing (qwen2moe's shared expert)"};
    c.edits.drop_tensors = {"blk.1.ffn_gate_inp_shexp.weight"};
    out.push_back(c);
  }
  test::ModelShape granite;
  granite.arch = "granite";
  granite.logit_scale = 8.0f;
  {
    ErrorCase c{"bias size", granite, {}, StatusCode::kCorrupt,
                "tensor 'blk.0.attn_output.bias' has shape [60], expected [64]"};
    c.edits.extra_vectors = {{"blk.0.attn_output.bias", 60}};
    out.push_back(c);
  }
  {
    ErrorCase c{"granite logit scale", granite, {}, StatusCode::kNotFound,
                "metadata key 'granite.logit_scale' is missing (required for granite)"};
    c.edits.drop_keys = {"granite.logit_scale"};
    out.push_back(c);
  }
  test::ModelShape granitemoe = granite;
  granitemoe.arch = "granitemoe";
  {
    ErrorCase c{"granitemoe without experts", granitemoe, {}, StatusCode::kNotFound,
                "'granitemoe.expert_count' and 'granitemoe.expert_used_count' must be > 0"};
    out.push_back(c);
  }
  granitemoe.n_expert = 4;
  granitemoe.n_expert_used = 2;
  granitemoe.n_ff_shexp = 48;
  {
    ErrorCase c{"granitemoe shared expert shape", granitemoe, {}, StatusCode::kCorrupt,
                "tensor 'blk.1.ffn_up_shexp.weight' has shape [64, 40], expected [64, 48]"};
    c.edits.reshape = [](const std::string& n, std::vector<int64_t>& s) {
      if (n == "blk.1.ffn_up_shexp.weight") s = {64, 40};
    };
    out.push_back(c);
  }
  test::ModelShape command_r;
  command_r.arch = "command-r";
  command_r.tied = true;
  {
    ErrorCase c{"command-r eps", command_r, {}, StatusCode::kNotFound,
                "metadata key 'command-r.attention.layer_norm_epsilon' is missing (required for command-r)"};
    c.edits.drop_keys = {"command-r.attention.layer_norm_epsilon"};
    out.push_back(c);
  }
  {
    ErrorCase c{"command-r q/k norms below 64 layers", command_r, {}, StatusCode::kUnsupported,
                "tensor 'blk.0.attn_q_norm.weight': command-r files have q/k norms only with 64 layers or more "
                "(Command R+); this one has 2"};
    c.edits.extra_vectors = {{"blk.0.attn_q_norm.weight", 64}};
    out.push_back(c);
  }
  {
    test::ModelShape plus = command_r;
    plus.n_layer = 64;
    ErrorCase c{"command r+ without q/k norms", plus, {}, StatusCode::kNotFound,
                "tensor 'blk.0.attn_q_norm.weight' is missing"};
    out.push_back(c);
  }
  {
    test::ModelShape plus = command_r;
    plus.n_layer = 64;
    plus.qk_norm_per_head = true;
    ErrorCase c{"command r+ q norm of one head", plus, {}, StatusCode::kCorrupt,
                "tensor 'blk.3.attn_q_norm.weight' has shape [16], expected [16, 4]"};
    c.edits.reshape = [](const std::string& name, std::vector<int64_t>& shape) {
      if (name == "blk.3.attn_q_norm.weight") shape = {shape[0]};
    };
    out.push_back(c);
  }
  {
    test::ModelShape cohere2 = command_r;
    cohere2.arch = "cohere2";
    ErrorCase c{"cohere2 window", cohere2, {}, StatusCode::kNotFound,
                "metadata key 'cohere2.attention.sliding_window' is missing (required for cohere2)"};
    out.push_back(c);
  }
  {
    test::ModelShape ernie;
    ernie.arch = "ernie4_5";
    ErrorCase c{"ernie4_5 output bias", ernie, {}, StatusCode::kUnsupported,
                "tensor 'blk.0.attn_output.bias': llama.cpp loads but does not apply this bias for ernie4_5"};
    c.edits.extra_vectors = {{"blk.0.attn_output.bias", 64}};
    out.push_back(c);
  }
  {
    test::ModelShape mistral3;
    mistral3.arch = "mistral3";
    mistral3.attn_temp_scale = std::numeric_limits<float>::quiet_NaN();
    ErrorCase c{"mistral3 temperature", mistral3, {}, StatusCode::kCorrupt,
                "'mistral3.attention.temperature_scale' must be a finite number"};
    out.push_back(c);
  }
  test::ModelShape gemma3;
  gemma3.arch = "gemma3";
  {
    ErrorCase c{"gemma3 without post norm", gemma3, {}, StatusCode::kNotFound,
                "tensor 'blk.1.post_ffw_norm.weight' is missing"};
    c.edits.drop_tensors = {"blk.1.post_ffw_norm.weight"};
    out.push_back(c);
  }
  {
    ErrorCase c{"gemma3 without k norm", gemma3, {}, StatusCode::kNotFound, "tensor 'blk.0.attn_k_norm.weight' is missing"};
    c.edits.drop_tensors = {"blk.0.attn_k_norm.weight"};
    out.push_back(c);
  }
  {
    ErrorCase c{"missing embedding", llama, {}, StatusCode::kNotFound, "tensor 'token_embd.weight' is missing"};
    c.edits.drop_tensors = {"token_embd.weight"};
    out.push_back(c);
  }
  test::ModelShape oss;
  oss.arch = "gpt-oss";
  oss.n_expert = 4;
  oss.n_expert_used = 2;
  oss.n_ff_exp = 32;
  oss.sliding_window = 8;
  {
    ErrorCase c{"gpt-oss without sinks", oss, {}, StatusCode::kNotFound, "tensor 'blk.1.attn_sinks.weight' is missing"};
    c.edits.drop_tensors = {"blk.1.attn_sinks.weight"};
    out.push_back(c);
  }
  {
    ErrorCase c{"gpt-oss without an expert bias", oss, {}, StatusCode::kNotFound,
                "tensor 'blk.0.ffn_up_exps.bias' is missing"};
    c.edits.drop_tensors = {"blk.0.ffn_up_exps.bias"};
    out.push_back(c);
  }
  {
    ErrorCase c{"gpt-oss without an output bias", oss, {}, StatusCode::kNotFound,
                "tensor 'blk.0.attn_output.bias' is missing"};
    c.edits.drop_tensors = {"blk.0.attn_output.bias"};
    out.push_back(c);
  }
  {
    ErrorCase c{"gpt-oss without its window", oss, {}, StatusCode::kNotFound,
                "metadata key 'gpt-oss.attention.sliding_window' is missing"};
    c.edits.drop_keys = {"gpt-oss.attention.sliding_window"};
    out.push_back(c);
  }
  {
    ErrorCase c{"gpt-oss expert bias shape", oss, {}, StatusCode::kCorrupt, "blk.1.ffn_down_exps.bias"};
    c.edits.reshape = [](const std::string& name, std::vector<int64_t>& shape) {
      if (name == "blk.1.ffn_down_exps.bias") shape[1] = 3;
    };
    out.push_back(c);
  }
  {
    ErrorCase c{"bad head count", llama, {}, StatusCode::kCorrupt, "is not a multiple of 'llama.attention.head_count_kv'"};
    c.shape.n_head_kv = 3;
    out.push_back(c);
  }
  {
    ErrorCase c{"unknown scaling", llama, {}, StatusCode::kUnsupported,
                "is 'su'; plumb supports none, linear and yarn RoPE scaling"};
    c.shape.rope_linear_factor = 2.0f;
    out.push_back(c);  // the type is patched to "su" below
  }
  return out;
}

TEST(LoadErrors, Table) {
  for (auto c : cases()) {
    test::TempDir dir;
    const std::string path = dir.file("bad.gguf");
    if (c.what == "unknown scaling") {
      // Re-write with the type key replaced.
      c.edits.drop_keys = {"llama.rope.scaling.type"};
      ASSERT_TRUE(test::write_model(c.shape, path, c.edits).ok());
      auto f = gguf::File::open(path);
      gguf::Writer w;
      for (const auto& kv : (*f)->metadata()) w.set(kv.key, kv.value);
      w.set("llama.rope.scaling.type", gguf::Value::string("su"));
      for (const auto& t : (*f)->tensors()) {
        auto d = (*f)->tensor_data(t);
        ASSERT_TRUE(w.add_tensor_raw(t.name, t.shape, t.type, std::vector<uint8_t>(d.begin(), d.end())).ok());
      }
      f->reset();
      ASSERT_TRUE(w.write(path).ok());
    } else {
      ASSERT_TRUE(test::write_model(c.shape, path, c.edits).ok()) << c.what;
    }
    auto m = Model::load(path);
    ASSERT_FALSE(m.ok()) << c.what;
    EXPECT_EQ(m.status().code(), c.code) << c.what << ": " << m.status().to_string();
    EXPECT_NE(m.status().message().find(c.message), std::string::npos) << c.what << ": " << m.status().message();
    EXPECT_NE(m.status().message().find("bad.gguf"), std::string::npos) << c.what << ": names the file";
  }
}

TEST(LoadErrors, UnknownArchitecture) {
  test::TempDir dir;
  test::ModelShape s;
  s.arch = "mamba";
  ASSERT_TRUE(test::write_model(s, dir.file("m.gguf")).ok());
  auto m = Model::load(dir.file("m.gguf"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(m.status().message().find("architecture 'mamba'"), std::string::npos) << m.status().message();
  const std::string all =
      "llama, qwen2, qwen2moe, qwen3, qwen3moe, phi3, gemma, gemma2, gemma3, smollm3, olmo2, granite, granitemoe, "
      "command-r, cohere2, ernie4_5, mistral3";
  EXPECT_NE(m.status().message().find(all), std::string::npos) << m.status().message();
}

TEST(LoadErrors, TruncatedFilesNeverCrash) {
  test::TempDir dir;
  test::ModelShape s;
  s.n_layer = 1;
  ASSERT_TRUE(test::write_model(s, dir.file("m.gguf")).ok());
  const std::string bytes = test::read_file(dir.file("m.gguf"));
  for (size_t n : {size_t{0}, size_t{3}, size_t{24}, size_t{200}, bytes.size() / 2, bytes.size() - 1}) {
    test::write_file(dir.file("t.gguf"), bytes.substr(0, n));
    auto m = Model::load(dir.file("t.gguf"));
    EXPECT_FALSE(m.ok()) << n;
  }
}

TEST(LoadErrors, CorruptedHeadersNeverCrash) {
  // A poor man's fuzzer that runs everywhere (fuzz/model_loader_fuzz.cpp is the real one):
  // flip bytes in the header (metadata values, tensor shapes/types/offsets) and load; when
  // the model still loads, one forward step must run.
  test::TempDir dir;
  test::ModelShape s;
  s.n_layer = 1;
  s.type = TensorType::kQ8_0;
  ASSERT_TRUE(test::write_model(s, dir.file("m.gguf")).ok());
  const std::string good = test::read_file(dir.file("m.gguf"));
  auto f = gguf::File::open(dir.file("m.gguf"));
  ASSERT_TRUE(f.ok());
  const size_t header = static_cast<size_t>((*f)->data_offset());
  std::mt19937 rng(12345);
  int loaded = 0;
  for (int iter = 0; iter < 300; ++iter) {
    std::string bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) bytes[rng() % header] = static_cast<char>(rng());
    auto file = gguf::File::from_buffer(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "flip.gguf");
    if (!file.ok()) continue;
    auto m = Model::from_file(std::move(*file));
    if (!m.ok()) continue;
    ++loaded;
    if ((*m)->hparams().n_embd * (*m)->hparams().n_layer > (1 << 16)) continue;
    auto ctx = Context::create(**m, {.n_ctx = 4, .n_batch = 2, .n_threads = 1});
    if (!ctx.ok()) continue;
    const int32_t toks[2] = {0, 1};
    (void)(*ctx)->eval(std::span<const int32_t>(toks, 2));
  }
  EXPECT_GT(loaded, 0);  // some flips hit bytes that do not matter (e.g. general.name)
}

TEST(LoadErrors, ProgressCanCancel) {
  test::TempDir dir;
  test::ModelShape s;
  ASSERT_TRUE(test::write_model(s, dir.file("m.gguf")).ok());
  std::vector<float> seen;
  ModelLoadOptions o;
  o.progress = [&](float p) {
    seen.push_back(p);
    return true;
  };
  auto m = Model::load(dir.file("m.gguf"), o);
  ASSERT_TRUE(m.ok());
  ASSERT_FALSE(seen.empty());
  EXPECT_FLOAT_EQ(seen.back(), 1.0f);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i], seen[i - 1]);
  o.progress = [](float) { return false; };
  auto c = Model::load(dir.file("m.gguf"), o);
  EXPECT_EQ(c.status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace plumb
