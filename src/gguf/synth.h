// gguf/synth.h — synthetic llama-family models: random weights with exactly the metadata
// keys and tensor names real GGUF files of each supported architecture use, so tests and
// benchmarks need no downloaded model.
//
// Weights are deterministic in `seed` (the same spec always gives the same bytes) and are
// generated row by row while writing, so even the 1b preset needs only a few MB of memory.
//
// Thread safety: synth_write is reentrant; distinct calls may run concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/gguf.h"
#include "plumb/status.h"
#include "plumb/tensor_type.h"

namespace plumb::gguf {

struct SynthSpec {
  // The architecture and the tensors it adds to llama's:
  //   qwen2     q/k/v biases (also implied by qkv_bias)
  //   qwen2moe  qwen2 with experts and a shared expert
  //   qwen3     per-head q/k norms; qwen3moe adds experts
  //   phi3      fused attn_qkv, and an ffn_up of 2 * n_ff rows (gate rows first), no ffn_gate
  //   gemma     none; gemma2 post_attention_norm / post_ffw_norm; gemma3 those and q/k norms
  //   smollm3   none (NoPE layers are a property of the architecture)
  //   olmo2     no attn_norm / ffn_norm; post-norms; q/k norms over the whole q / k
  //   granite   none (Granite 3.x 2B's four scalars as keys)
  //   mistral3  none (Ministral 3's attention temperature scale, and with yarn_factor its YaRN
  //             betas and log multiplier, as keys)
  //   gpt-oss   experts (required) with biases on the router and every expert matrix, q/k/v and
  //             attn_output biases, attn_sinks, and post_attention_norm as the FFN's input norm;
  //             attention.sliding_window 128 unless sliding_window says otherwise
  std::string arch = "llama";
  std::string name = "plumb-synth";  // general.name
  int n_vocab = 320;  // ignored when vocab_path is set (the copied vocabulary decides)
  int n_embd = 64;
  int n_layer = 2;
  int n_head = 4;
  int n_head_kv = 2;
  int n_ff = 128;
  int head_dim = 0;  // 0: n_embd / n_head; otherwise written as attention.key_length / value_length
  int sliding_window = 0;  // > 0: written as attention.sliding_window
  // LongRoPE as Phi-3.5-mini has it: rope_factors_long / rope_factors_short, an original context
  // of n_ctx / 32 (rope.scaling.original_context_length) and rope.scaling.attn_factor
  // sqrt(1 + ln 32 / ln(original)).
  bool long_rope = false;
  // > 0: every FFN a mixture of n_expert experts of n_ff_exp (0: n_ff), n_expert_used per token:
  // ffn_gate_inp and ffn_gate/up/down_exps, as Mixtral (arch llama) and qwen3moe files have them.
  int n_expert = 0;
  int n_expert_used = 0;
  int n_ff_exp = 0;
  // > 0: granitemoe's shared expert of this width (ffn_gate/up/down_shexp, no gate of its own).
  int n_ff_shexp = 0;
  // > 1: YaRN scaling by this factor (rope.scaling.type yarn, .factor, and an original context of
  // n_ctx / factor), as Qwen2.5 / Qwen3 long-context files have it.
  float yarn_factor = 0.0f;
  int n_ctx = 512;
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_output = false;  // no output.weight: the model reuses token_embd
  bool qkv_bias = false;     // blk.N.attn_q/k/v.bias (F32), as qwen2 has
  TensorType type = TensorType::kF32;  // token_embd, output and the matrices; norms/biases stay F32
  // With type q4_K or q5_K: the mix llama.cpp's quantize writes for its Q4_K_M / Q5_K_M file
  // types, so benchmarks see the tensor types real downloads have.  output.weight (or a tied
  // token_embd) is q6_K, and so are attn_v and ffn_down in the layers llama.cpp gives "more
  // bits": the first and last eighth of the layers and every third layer between them.  As in
  // llama.cpp, a tensor whose rows are not a multiple of 256 falls back to q5_0 (for q4_K), q5_1
  // (q5_K) or q8_0 (q6_K and the output), and to f16 when its rows are not a multiple of 32.
  bool k_mix = false;
  // With type q8_0: llama.cpp's MXFP4_MOE file type, as the published gpt-oss files have it:
  // the experts (three-dimensional tensors) in MXFP4, every other matrix q8_0.
  bool mxfp4_moe = false;
  uint64_t seed = 0;
  std::string vocab_path;  // when set, copy every tokenizer.* key from this GGUF file
};

// "tiny" (n_embd 64, 2 layers), "small" (n_embd 256, 4 layers) or "1b" (the shape of
// Llama-3.2-1B: n_embd 2048, 16 layers, 32 heads, 8 KV heads, n_ff 8192, vocab 128256).
Result<SynthSpec> synth_preset(std::string_view name);
// The preset names, for help texts.
const std::vector<std::string>& synth_preset_names();

// The llama.cpp file type (general.file_type) of a model whose matrices are `type`.
Result<uint32_t> file_type_of(TensorType type);

// Sets spec.type, spec.k_mix and spec.mxfp4_moe from a weight-type name as `plumb synth --type`
// takes it: a tensor type (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K) or a mix
// (q4_K_M, q5_K_M, mxfp4_moe).
Status set_synth_type(SynthSpec& spec, std::string_view name);
// Those names, for help texts.
const std::vector<std::string>& synth_type_names();

// Called after each chunk written, with bytes written so far and the file's total size.
// Returning false cancels (synth_write then returns Cancelled and leaves no file).
using SynthProgress = std::function<bool(uint64_t done, uint64_t total)>;

// Writes the model described by `spec` to `path` (atomically).  InvalidArgument when the
// spec is inconsistent (heads not dividing n_embd, rows not a multiple of the block size).
Status synth_write(const SynthSpec& spec, const std::string& path, const SynthProgress& progress = {});

// The generated SentencePiece-style ("llama") vocabulary of n_vocab tokens: <unk>, <s>,
// </s>, the 256 byte tokens <0x00>..<0xFF>, then ▁-prefixed word pieces (every prefix of
// each piece is itself a piece, so SentencePiece merging can reach it).  REQUIRES: n_vocab >= 260.
struct SynthVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> token_types;  // 1 normal, 2 unknown, 3 control, 6 byte
};
SynthVocab synth_vocab(int n_vocab);

}  // namespace plumb::gguf
