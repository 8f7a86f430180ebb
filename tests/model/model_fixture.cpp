#include "model/model_fixture.h"

#include <cmath>
#include <random>

#include "kernels/kquants.h"

namespace plumb::test {

std::string ModelShape::name() const {
  return arch + "_e" + std::to_string(n_embd) + "_h" + std::to_string(n_head) + "kv" + std::to_string(n_head_kv) +
         (head_dim > 0 ? std::string("d").append(std::to_string(head_dim)) : std::string()) +
         (n_expert > 0 ? std::string("_x").append(std::to_string(n_expert)).append("k").append(std::to_string(n_expert_used))
                       : std::string()) +
         (n_ff_shexp > 0 ? std::string("s").append(std::to_string(n_ff_shexp)) : std::string()) +
         (biases ? "_bias" : "") +
         (tied ? "_tied" : "_untied") + "_" + std::string(tensor_type_name(type));
}

namespace {

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  std::vector<float> uniform(size_t n, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng_);
    return v;
  }

 private:
  std::mt19937 rng_;
};

Status add_tensor(gguf::Writer& w, const ModelEdits& e, const std::string& name, std::vector<int64_t> shape,
                  TensorType type, const std::vector<float>& data) {
  if (e.drop_tensors.count(name)) return Status::Ok();
  std::vector<float> d = data;
  if (e.reshape) {
    const auto before = shape;
    e.reshape(name, shape);
    if (shape != before) {
      int64_t n = 1;
      for (auto x : shape) n *= x;
      d.assign(static_cast<size_t>(n), 0.01f);
    }
  }
  void (*kq)(const float*, void*, int64_t) = nullptr;
  if (type == TensorType::kQ4_K) kq = kernels::quantize_row_q4_K_ref;
  if (type == TensorType::kQ5_K) kq = kernels::quantize_row_q5_K_ref;
  if (type == TensorType::kQ6_K) kq = kernels::quantize_row_q6_K_ref;
  if (kq != nullptr) {
    const auto tr = tensor_type_traits(type);
    const int64_t row = shape[0], rows = static_cast<int64_t>(d.size()) / row;
    std::vector<uint8_t> bytes(static_cast<size_t>(rows * (row / tr->block_size) * tr->type_size));
    for (int64_t r = 0; r < rows; ++r)
      kq(d.data() + r * row, bytes.data() + r * (row / tr->block_size) * tr->type_size, row);
    return w.add_tensor_raw(name, shape, type, std::move(bytes));
  }
  return w.add_tensor_f32(name, shape, type, d);
}

}  // namespace

Status write_model(const ModelShape& s, const std::string& path, const ModelEdits& e) {
  gguf::Writer w;
  const std::string a = s.arch;
  auto set = [&](const std::string& key, gguf::Value v) {
    if (!e.drop_keys.count(key)) w.set(key, std::move(v));
  };
  set("general.architecture", gguf::Value::string(a));
  set("general.name", gguf::Value::string("synthetic " + s.name()));
  set(a + ".context_length", gguf::Value::u32(static_cast<uint32_t>(s.n_ctx)));
  set(a + ".embedding_length", gguf::Value::u32(static_cast<uint32_t>(s.n_embd)));
  set(a + ".block_count", gguf::Value::u32(static_cast<uint32_t>(s.n_layer)));
  set(a + ".feed_forward_length", gguf::Value::u32(static_cast<uint32_t>(s.n_ff)));
  set(a + ".attention.head_count", gguf::Value::u32(static_cast<uint32_t>(s.n_head)));
  set(a + ".attention.head_count_kv", gguf::Value::u32(static_cast<uint32_t>(s.n_head_kv)));
  set(a + ".rope.freq_base", gguf::Value::f32(s.rope_base));
  const int64_t hd = s.head_dim > 0 ? s.head_dim : s.n_embd / s.n_head;
  set(a + ".rope.dimension_count", gguf::Value::u32(static_cast<uint32_t>(hd)));
  if (s.head_dim > 0) {
    set(a + ".attention.key_length", gguf::Value::u32(static_cast<uint32_t>(hd)));
    set(a + ".attention.value_length", gguf::Value::u32(static_cast<uint32_t>(hd)));
  }
  if (a == "command-r" || a == "cohere2")
    set(a + ".attention.layer_norm_epsilon", gguf::Value::f32(1e-5f));
  else
    set(a + ".attention.layer_norm_rms_epsilon", gguf::Value::f32(1e-5f));
  if (s.rope_linear_factor > 0) {
    set(a + ".rope.scaling.type", gguf::Value::string("linear"));
    set(a + ".rope.scaling.factor", gguf::Value::f32(s.rope_linear_factor));
  }
  if (s.rope_yarn_factor > 0) {
    set(a + ".rope.scaling.type", gguf::Value::string("yarn"));
    set(a + ".rope.scaling.factor", gguf::Value::f32(s.rope_yarn_factor));
  }
  if (s.sliding_window > 0)
    set(a + ".attention.sliding_window", gguf::Value::u32(static_cast<uint32_t>(s.sliding_window)));
  if (s.swa_period > 0)
    set(a + ".attention.sliding_window_pattern", gguf::Value::u32(static_cast<uint32_t>(s.swa_period)));
  if (s.rope_base_swa > 0) set(a + ".rope.freq_base_swa", gguf::Value::f32(s.rope_base_swa));
  if (s.logit_softcap > 0) set(a + ".final_logit_softcapping", gguf::Value::f32(s.logit_softcap));
  if (s.attn_softcap > 0) set(a + ".attn_logit_softcapping", gguf::Value::f32(s.attn_softcap));
  if (s.embedding_scale > 0) set(a + ".embedding_scale", gguf::Value::f32(s.embedding_scale));
  if (s.residual_scale > 0) set(a + ".residual_scale", gguf::Value::f32(s.residual_scale));
  if (s.logit_scale > 0) set(a + ".logit_scale", gguf::Value::f32(s.logit_scale));
  if (s.attention_scale > 0) set(a + ".attention.scale", gguf::Value::f32(s.attention_scale));
  if (s.rope_off) set(a + ".rope.scaling.finetuned", gguf::Value::boolean(false));
  if (s.n_expert > 0) {
    set(a + ".expert_count", gguf::Value::u32(static_cast<uint32_t>(s.n_expert)));
    set(a + ".expert_used_count", gguf::Value::u32(static_cast<uint32_t>(s.n_expert_used)));
  }
  if (s.n_ff_shexp > 0)
    set(a + ".expert_shared_feed_forward_length", gguf::Value::u32(static_cast<uint32_t>(s.n_ff_shexp)));
  if (s.n_ff_exp > 0) set(a + ".expert_feed_forward_length", gguf::Value::u32(static_cast<uint32_t>(s.n_ff_exp)));
  if (s.n_ctx_orig > 0)
    set(a + ".rope.scaling.original_context_length", gguf::Value::u32(static_cast<uint32_t>(s.n_ctx_orig)));
  if (s.rope_attn_factor > 0) set(a + ".rope.scaling.attn_factor", gguf::Value::f32(s.rope_attn_factor));
  if (s.yarn_beta_fast > 0) set(a + ".rope.scaling.yarn_beta_fast", gguf::Value::f32(s.yarn_beta_fast));
  if (s.yarn_beta_slow > 0) set(a + ".rope.scaling.yarn_beta_slow", gguf::Value::f32(s.yarn_beta_slow));
  if (s.yarn_log_mul != 0) set(a + ".rope.scaling.yarn_log_multiplier", gguf::Value::f32(s.yarn_log_mul));
  if (s.attn_temp_scale != 0) set(a + ".attention.temperature_scale", gguf::Value::f32(s.attn_temp_scale));

  Gen g(s.seed);
  const int64_t E = s.n_embd, q = s.n_head * hd, kv = s.n_head_kv * hd, F = s.n_ff;
  // Uniform(-a, a) with a = sqrt(3 / fan_in): unit-variance outputs, so activations stay O(1).
  auto mat = [&](const std::string& name, int64_t cols, int64_t rows) {
    const float lim = std::sqrt(3.0f / static_cast<float>(cols));
    return add_tensor(w, e, name, {cols, rows}, s.type, g.uniform(static_cast<size_t>(cols * rows), -lim, lim));
  };
  auto vec = [&](const std::string& name, int64_t n, float lo, float hi) {
    return add_tensor(w, e, name, {n}, TensorType::kF32, g.uniform(static_cast<size_t>(n), lo, hi));
  };
  PLUMB_RETURN_IF_ERROR(add_tensor(w, e, "token_embd.weight", {E, s.n_vocab}, s.type,
                                   g.uniform(static_cast<size_t>(E * s.n_vocab), -1.0f, 1.0f)));
  PLUMB_RETURN_IF_ERROR(vec("output_norm.weight", E, 0.8f, 1.2f));
  if (!s.tied) PLUMB_RETURN_IF_ERROR(mat("output.weight", E, s.n_vocab));
  if (s.rope_freqs) PLUMB_RETURN_IF_ERROR(vec("rope_freqs.weight", hd / 2, 1.0f, 8.0f));
  if (s.long_rope) {
    PLUMB_RETURN_IF_ERROR(vec("rope_factors_long.weight", hd / 2, 1.0f, 8.0f));
    PLUMB_RETURN_IF_ERROR(vec("rope_factors_short.weight", hd / 2, 1.0f, 1.5f));
  }
  for (int l = 0; l < s.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    if (a != "olmo2") PLUMB_RETURN_IF_ERROR(vec(p + "attn_norm.weight", E, 0.8f, 1.2f));
    if (a == "phi3") {
      PLUMB_RETURN_IF_ERROR(mat(p + "attn_qkv.weight", E, q + 2 * kv));
    } else {
      PLUMB_RETURN_IF_ERROR(mat(p + "attn_q.weight", E, q));
      PLUMB_RETURN_IF_ERROR(mat(p + "attn_k.weight", E, kv));
      PLUMB_RETURN_IF_ERROR(mat(p + "attn_v.weight", E, kv));
    }
    const bool gpt_oss = a == "gpt-oss";
    if (a == "qwen2" || a == "qwen2moe" || gpt_oss || (s.biases && a != "phi3")) {
      PLUMB_RETURN_IF_ERROR(vec(p + "attn_q.bias", q, -0.5f, 0.5f));
      PLUMB_RETURN_IF_ERROR(vec(p + "attn_k.bias", kv, -0.5f, 0.5f));
      PLUMB_RETURN_IF_ERROR(vec(p + "attn_v.bias", kv, -0.5f, 0.5f));
    }
    if (a == "qwen3" || a == "qwen3moe" || a == "gemma3") {
      PLUMB_RETURN_IF_ERROR(vec(p + "attn_q_norm.weight", hd, 0.5f, 1.5f));
      PLUMB_RETURN_IF_ERROR(vec(p + "attn_k_norm.weight", hd, 0.5f, 1.5f));
    }
    if (s.qk_norm_per_head) {  // Command R+: one weight vector per head
      PLUMB_RETURN_IF_ERROR(add_tensor(w, e, p + "attn_q_norm.weight", {hd, s.n_head}, TensorType::kF32,
                                       g.uniform(static_cast<size_t>(hd * s.n_head), 0.5f, 1.5f)));
      PLUMB_RETURN_IF_ERROR(add_tensor(w, e, p + "attn_k_norm.weight", {hd, s.n_head_kv}, TensorType::kF32,
                                       g.uniform(static_cast<size_t>(hd * s.n_head_kv), 0.5f, 1.5f)));
    }
    if (a == "olmo2") {  // over the whole q and k
      PLUMB_RETURN_IF_ERROR(vec(p + "attn_q_norm.weight", q, 0.5f, 1.5f));
      PLUMB_RETURN_IF_ERROR(vec(p + "attn_k_norm.weight", kv, 0.5f, 1.5f));
    }
    PLUMB_RETURN_IF_ERROR(mat(p + "attn_output.weight", q, E));
    if (s.biases || gpt_oss) PLUMB_RETURN_IF_ERROR(vec(p + "attn_output.bias", E, -0.5f, 0.5f));
    if (gpt_oss) {
      // Sinks from -2 to 3: against this test's few positions a sink takes anything from a small
      // to the larger share of a head's attention.
      PLUMB_RETURN_IF_ERROR(vec(p + "attn_sinks.weight", s.n_head, -2.0f, 3.0f));
      PLUMB_RETURN_IF_ERROR(vec(p + "post_attention_norm.weight", E, 0.8f, 1.2f));  // the FFN's input norm
    }
    if (a == "gemma2" || a == "gemma3" || a == "olmo2") {
      PLUMB_RETURN_IF_ERROR(vec(p + "post_attention_norm.weight", E, 0.5f, 1.5f));
      PLUMB_RETURN_IF_ERROR(vec(p + "post_ffw_norm.weight", E, 0.5f, 1.5f));
    }
    if (a != "olmo2" && a != "command-r" && a != "cohere2" && !gpt_oss)
      PLUMB_RETURN_IF_ERROR(vec(p + "ffn_norm.weight", E, 0.8f, 1.2f));
    if (s.n_expert > 0) {
      const int64_t X = s.n_expert, FE = s.n_ff_exp > 0 ? s.n_ff_exp : F;
      PLUMB_RETURN_IF_ERROR(add_tensor(w, e, p + "ffn_gate_inp.weight", {E, X}, TensorType::kF32,
                                       g.uniform(static_cast<size_t>(E * X), -1.0f, 1.0f)));
      auto stack = [&](const std::string& name, int64_t cols, int64_t rows) {
        const float lim = std::sqrt(3.0f / static_cast<float>(cols));
        return add_tensor(w, e, name, {cols, rows, X}, s.type, g.uniform(static_cast<size_t>(cols * rows * X), -lim, lim));
      };
      PLUMB_RETURN_IF_ERROR(stack(p + "ffn_gate_exps.weight", E, FE));
      PLUMB_RETURN_IF_ERROR(stack(p + "ffn_up_exps.weight", E, FE));
      PLUMB_RETURN_IF_ERROR(stack(p + "ffn_down_exps.weight", FE, E));
      if (gpt_oss) {
        // Biases wide enough that gpt-oss's clamps (gate <= 7, |up| <= 7) bite on some entries.
        auto table = [&](const std::string& name, int64_t n, float lo, float hi) {
          return add_tensor(w, e, name, {n, X}, TensorType::kF32, g.uniform(static_cast<size_t>(n * X), lo, hi));
        };
        PLUMB_RETURN_IF_ERROR(vec(p + "ffn_gate_inp.bias", X, -1.0f, 1.0f));
        PLUMB_RETURN_IF_ERROR(table(p + "ffn_gate_exps.bias", FE, -4.0f, 10.0f));
        PLUMB_RETURN_IF_ERROR(table(p + "ffn_up_exps.bias", FE, -9.0f, 9.0f));
        PLUMB_RETURN_IF_ERROR(table(p + "ffn_down_exps.bias", E, -0.5f, 0.5f));
      }
      if (a == "qwen2moe") {  // the shared expert, n_ff wide
        PLUMB_RETURN_IF_ERROR(vec(p + "ffn_gate_inp_shexp.weight", E, -1.0f, 1.0f));
        PLUMB_RETURN_IF_ERROR(mat(p + "ffn_gate_shexp.weight", E, F));
        PLUMB_RETURN_IF_ERROR(mat(p + "ffn_up_shexp.weight", E, F));
        PLUMB_RETURN_IF_ERROR(mat(p + "ffn_down_shexp.weight", F, E));
      }
      if (s.n_ff_shexp > 0) {
        PLUMB_RETURN_IF_ERROR(mat(p + "ffn_gate_shexp.weight", E, s.n_ff_shexp));
        PLUMB_RETURN_IF_ERROR(mat(p + "ffn_up_shexp.weight", E, s.n_ff_shexp));
        PLUMB_RETURN_IF_ERROR(mat(p + "ffn_down_shexp.weight", s.n_ff_shexp, E));
      }
    } else if (a == "phi3") {
      PLUMB_RETURN_IF_ERROR(mat(p + "ffn_up.weight", E, 2 * F));  // gate rows, then up rows
    } else {
      PLUMB_RETURN_IF_ERROR(mat(p + "ffn_gate.weight", E, F));
      PLUMB_RETURN_IF_ERROR(mat(p + "ffn_up.weight", E, F));
    }
    if (s.n_expert == 0) PLUMB_RETURN_IF_ERROR(mat(p + "ffn_down.weight", F, E));
    if (s.biases && s.n_expert == 0 && a != "phi3") {
      PLUMB_RETURN_IF_ERROR(vec(p + "ffn_gate.bias", F, -0.5f, 0.5f));
      PLUMB_RETURN_IF_ERROR(vec(p + "ffn_up.bias", F, -0.5f, 0.5f));
      PLUMB_RETURN_IF_ERROR(vec(p + "ffn_down.bias", E, -0.5f, 0.5f));
    }
  }
  for (const auto& [name, n] : e.extra_vectors) PLUMB_RETURN_IF_ERROR(vec(name, n, 1.0f, 2.0f));
  return w.write(path);
}

}  // namespace plumb::test
