// Synthetic llama/qwen2/qwen3/phi3/gemma3 models written with gguf::Writer, for the model tests.
#pragma once

#include <functional>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include "plumb/gguf.h"
#include "plumb/status.h"
#include "plumb/tensor_type.h"

namespace plumb::test {

struct ModelShape {
  // llama, or one that adds: qwen2 (QKV biases), qwen2moe (qwen2 with experts and a shared
  // expert), qwen3 (per-head q/k norms), qwen3moe, phi3 (fused matrices), gemma, gemma2 (post
  // norms), gemma3 (q/k and post norms), smollm3 (NoPE layers), olmo2 (post norms only,
  // whole-q/k norms), granite (scalars), granitemoe (granite with experts), command-r (LayerNorms, parallel blocks, no
  // ffn_norm), cohere2 (command-r with a window in 3 of 4 layers, NoPE in the others), mistral3
  // (llama with YaRN betas, log multiplier and attention temperature), gpt-oss (biases everywhere,
  // attention sinks, experts with biased router and experts; needs n_expert, n_ff_exp and
  // sliding_window)
  std::string arch = "llama";
  int n_vocab = 100;
  int n_embd = 64;
  int n_layer = 2;
  int n_ff = 96;
  int n_head = 4;
  int n_head_kv = 4;
  int head_dim = 0;  // 0: n_embd / n_head; otherwise written as attention.key_length
  int n_ctx = 128;
  bool tied = false;
  TensorType type = TensorType::kF32;  // of the 2-D matrices; norms and biases stay F32
  uint32_t seed = 1;
  float rope_base = 10000.0f;
  float rope_linear_factor = 0;  // > 0: rope.scaling.type linear
  float rope_yarn_factor = 0;    // > 0: rope.scaling.type yarn (with n_ctx_orig below)
  int sliding_window = 0;
  int swa_period = 0;            // > 0: attention.sliding_window_pattern (gemma3)
  float rope_base_swa = 0;       // > 0: rope.freq_base_swa (gemma3)
  float logit_softcap = 0;       // > 0: final_logit_softcapping (gemma2, gemma3)
  float attn_softcap = 0;        // > 0: attn_logit_softcapping (gemma2)
  int n_expert = 0;              // > 0: a mixture of experts in every layer (Mixtral-style for llama)
  int n_expert_used = 0;
  int n_ff_exp = 0;              // > 0: expert_feed_forward_length (else the experts are n_ff wide)
  int n_ff_shexp = 0;            // > 0: an ungated shared expert this wide (granitemoe)
  // granite's scalars, written when > 0; rope_off writes rope.scaling.finetuned = false.
  float embedding_scale = 0, residual_scale = 0, logit_scale = 0, attention_scale = 0;
  bool rope_off = false;
  bool long_rope = false;        // rope_factors_long / _short (n_rot / 2 each, in [1, 8]) and the keys below
  int n_ctx_orig = 0;            // > 0: rope.scaling.original_context_length
  float rope_attn_factor = 0;    // > 0: rope.scaling.attn_factor
  // mistral3's keys, written when set: YaRN's betas (> 0) and log multiplier, and the attention
  // temperature scale.
  float yarn_beta_fast = 0, yarn_beta_slow = 0, yarn_log_mul = 0, attn_temp_scale = 0;
  bool rope_freqs = false;       // add a rope_freqs.weight tensor
  bool biases = false;           // attn_q/k/v.bias (unless qwen2 has them), attn_output.bias, ffn_gate/up/down.bias
  bool qk_norm_per_head = false; // attn_q_norm [head_dim, n_head] and attn_k_norm [head_dim, n_head_kv] (Command R+)
  std::string name() const;
};

// Edits applied while writing, for malformed-model tests.
struct ModelEdits {
  std::set<std::string> drop_keys;     // full key names
  std::set<std::string> drop_tensors;  // tensor names
  std::vector<std::pair<std::string, int64_t>> extra_vectors;  // more F32 tensors: name, length
  std::function<void(const std::string& name, std::vector<int64_t>& shape)> reshape;
};

// Writes the model to `path`.
Status write_model(const ModelShape& s, const std::string& path, const ModelEdits& edits = {});

}  // namespace plumb::test
