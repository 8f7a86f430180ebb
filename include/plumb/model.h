// plumb/model.h — a GGUF language model (weights mapped, not copied) and a Context that
// runs it: KV cache, thread pool, preallocated activations.
//
// Supported architectures: llama (Llama 2/3.x, Mistral, TinyLlama, SmolLM, CodeLlama) and
// qwen2.  Each lives in src/model/arch/<arch>.cpp.
//
// Thread safety: a Model is immutable after load and may be shared by many Contexts (one per
// thread).  A Context is single-threaded state (it runs its own worker pool inside eval()).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "plumb/page_cache.h"
#include "plumb/status.h"
#include "plumb/tensor_type.h"

namespace plumb {

namespace gguf { class File; }

// How rotary position embeddings pair up the dimensions of a head (ggml's terms):
// kNorm rotates adjacent pairs (x[2i], x[2i+1]); kNeox rotates (x[i], x[i + n_rot/2]).
enum class RopeType { kNorm, kNeox };

struct ModelHParams {
  std::string arch;              // general.architecture
  std::string name;              // general.name, may be empty
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;       // <arch>.context_length
  int64_t n_embd = 0;            // <arch>.embedding_length
  int64_t n_layer = 0;           // <arch>.block_count
  int64_t n_ff = 0;              // <arch>.feed_forward_length
  int64_t n_expert = 0;          // <arch>.expert_count (mixture of experts; 0 = dense)
  int64_t n_expert_used = 0;     // <arch>.expert_used_count: experts run per token
  int64_t n_ff_exp = 0;          // <arch>.expert_feed_forward_length, else n_ff
  int64_t n_ff_shexp = 0;        // <arch>.expert_shared_feed_forward_length, else n_ff (qwen2moe's shared expert)
  bool moe_norm_weights = true;  // renormalise the chosen experts' probabilities (false: qwen2moe)
  // The experts are chosen by their router logits and weighted by a softmax over the chosen
  // logits alone (gpt-oss), instead of a softmax over all experts first.
  bool moe_softmax_after_topk = false;
  int64_t n_head = 0;            // <arch>.attention.head_count
  int64_t n_head_kv = 0;         // <arch>.attention.head_count_kv (defaults to n_head)
  int64_t head_dim = 0;          // <arch>.attention.key_length, else n_embd / n_head
  int64_t n_rot = 0;             // <arch>.rope.dimension_count, else head_dim
  float rms_eps = 1e-5f;         // <arch>.attention.layer_norm_rms_epsilon (command-r: layer_norm_epsilon)
  bool layer_norm = false;       // norms subtract the mean first: LayerNorm without bias (command-r)
  bool parallel_blocks = false;  // attention and FFN both read attn_norm(x); x += attn + ffn (command-r)
  // q/k norms with a weight vector per head (attn_q_norm [head_dim, n_head], attn_k_norm
  // [head_dim, n_head_kv]), applied head by head: Command R+ (command-r with 64 layers or more).
  bool qk_norm_per_head = false;
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / <arch>.rope.scaling.factor for linear and YaRN scaling
  // YaRN (rope.scaling.type yarn), as llama.cpp computes it: per rotation pair, a ramp between the
  // interpolated (scaled) and the original angle over the pairs whose wavelength falls between
  // yarn_beta_fast and yarn_beta_slow turns of the original context n_ctx_orig, and cos/sin
  // multiplied by 1 + 0.1 ln(factor), or with a log multiplier m by
  // (1 + 0.1 ln(factor)) / (1 + 0.1 m ln(factor)).
  bool rope_yarn = false;
  float yarn_beta_fast = 32.0f;  // <arch>.rope.scaling.yarn_beta_fast (read by mistral3; llama.cpp's default elsewhere)
  float yarn_beta_slow = 1.0f;   // <arch>.rope.scaling.yarn_beta_slow (likewise)
  float yarn_log_mul = 0.0f;     // <arch>.rope.scaling.yarn_log_multiplier (mistral3; 0 = none)
  // Attention temperature tuning (<arch>.attention.temperature_scale, mistral3 as Llama 4):
  // q at position p is multiplied by 1 + scale * ln(floor(p / n_ctx_orig) + 1); 0 = off.
  float attn_temp_scale = 0.0f;
  int64_t sliding_window = 0;    // <arch>.attention.sliding_window; 0 = full attention
  // With a sliding window: 0 = every layer uses it; P > 0 = layer l uses it unless l % P == P - 1
  // (gemma3: five local layers, then one global).
  int64_t swa_period = 0;
  // RoPE of the sliding-window layers when they differ (gemma3: base 10000 and no scaling there,
  // the global layers' rope.freq_base and scaling elsewhere); base 0 = the same as every layer.
  float rope_freq_base_swa = 0.0f;
  float rope_freq_scale_swa = 1.0f;
  int64_t nope_period = 0;       // > 0: layers l with (l + 1) % P == 0 use no RoPE (smollm3: 4)
  float embd_scale = 1.0f;       // token embeddings are multiplied by this (gemma3: sqrt(n_embd))
  float attn_scale = 0.0f;       // scale of q.k; 0 = 1 / sqrt(head_dim)
  float attn_softcap = 0.0f;     // > 0: attention scores = cap * tanh(scores / cap) (gemma2)
  float logit_softcap = 0.0f;    // > 0: logits = cap * tanh(logits / cap) (<arch>.final_logit_softcapping)
  float logit_scale = 1.0f;      // logits are divided by this (granite; command-r: 1 / its logit_scale)
  float residual_scale = 1.0f;   // each branch's output is multiplied by this before the residual add (granite)
  bool ffn_gelu = false;         // FFN gate activation GELU (tanh form) instead of SiLU
  // gpt-oss's clamped SwiGLU: g = min(gate, 7), u = clamp(up, -7, 7), g * sigmoid(1.702 g) * (u + 1).
  bool ffn_swiglu_oai = false;
  RopeType rope_type = RopeType::kNorm;
  bool tied_output = false;      // output.weight absent: logits use token_embd.weight
  bool has_qkv_bias = false;
  bool has_rope_freqs = false;   // rope_freqs.weight present (Llama 3.1+ long-context factors)
  // LongRoPE (Phi-3.5 / Phi-4-mini, 128k): rope_factors_long / rope_factors_short divide the
  // rotation frequencies, the long ones when the context is larger than n_ctx_orig, and every
  // cos/sin is multiplied by rope_attn_factor, as llama.cpp runs them.
  bool has_long_rope = false;
  int64_t n_ctx_orig = 0;        // <arch>.rope.scaling.original_context_length, else n_ctx_train
  float rope_attn_factor = 1.0f; // <arch>.rope.scaling.attn_factor
};

struct ModelLoadOptions {
  // Called with a fraction in [0, 1] while the weights are paged in; returning false
  // cancels the load (Status kCancelled).
  std::function<bool(float)> progress;
  // What to do when the OS page cache holds the file in small pages (plumb/page_cache.h): by
  // default, read it back once from disk in 2 MiB pages, which decode faster.
  PageCache page_cache = PageCache::kAuto;
};

class Model {
 public:
  // Maps `path` and checks every hyper-parameter and tensor the architecture needs; an
  // error names the file and the key or tensor.
  static Result<std::unique_ptr<Model>> load(const std::string& path, const ModelLoadOptions& opts = {});
  // Takes an opened file (e.g. File::from_buffer in tests).
  static Result<std::unique_ptr<Model>> from_file(std::unique_ptr<gguf::File> file,
                                                  const ModelLoadOptions& opts = {});
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelHParams& hparams() const;
  const gguf::File& file() const;
  // Bytes of weights one decoded token reads (every matrix once, plus one embedding row):
  // the numerator of the decode bandwidth figure.
  uint64_t bytes_per_token() const;
  uint64_t n_params() const;
  // The dominant matrix type ("q4_0"), for summaries.
  TensorType main_type() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct ContextParams {
  int32_t n_ctx = 0;      // KV cache size in tokens; 0 = min(n_ctx_train, 4096)
  int32_t n_batch = 512;  // most tokens one forward pass processes (prompt chunks)
  int32_t n_threads = 0;  // 0 = hardware concurrency
  // Keep every evaluated token's final hidden state (after output_norm, n_embd floats) for
  // hidden_at(): what embedding models pool.  Costs n_batch*n_embd floats per chunk copied.
  bool embeddings = false;
  // How the KV cache stores keys and values: kF32 (exact), kF16 (half the memory and half the
  // bytes attention reads at long contexts, as llama.cpp's default) or kQ8_0 (ggml's 8-bit
  // blocks: 17/64 of f32's memory; needs a head size that is a multiple of 32).  The products
  // stay f32 whatever the storage.
  TensorType kv_type = TensorType::kF32;
};

class Context {
 public:
  // Preallocates the KV cache and every activation buffer, and starts the thread pool.
  // REQUIRES: `model` outlives the Context.
  static Result<std::unique_ptr<Context>> create(const Model& model, const ContextParams& params = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Runs `tokens` at positions n_past() .. n_past() + size - 1 (in chunks of n_batch),
  // appending them to the KV cache.  Afterwards logits() holds the last token's logits, and
  // with `all_logits` logits_at(i) holds those of tokens[i].  Fails with kOutOfRange when
  // the tokens do not fit in the context (nothing is evaluated then), kInvalidArgument for
  // an id outside the vocabulary.
  Status eval(std::span<const int32_t> tokens, bool all_logits = false);
  // Valid until the next eval().
  std::span<const float> logits() const;
  // REQUIRES: the last eval() had all_logits and i < its token count.
  std::span<const float> logits_at(size_t i) const;
  // REQUIRES: the Context was created with `embeddings` and i < the last eval()'s token count.
  // Token i's final hidden state (n_embd floats), valid until the next eval().
  std::span<const float> hidden_at(size_t i) const;

  int32_t n_past() const;
  int32_t n_ctx() const;
  int32_t n_threads() const;
  // Forgets positions >= n (n = 0 empties the cache).
  void truncate(int32_t n);
  // Context shift: drops the cached positions [n_keep, n_keep + n_discard), moves the later
  // ones down by n_discard, and re-rotates their keys by -n_discard positions with the
  // model's RoPE, so each moved key is the key its token has at the new position (RoPE scores
  // depend only on relative positions); the model forgets the dropped tokens.  (Beyond the
  // first layer, moved keys and values still carry what their tokens attended to before, as
  // in llama.cpp.)  n_past() shrinks by n_discard; logits() is unchanged.
  // Fails with kInvalidArgument unless 0 <= n_keep, 0 <= n_discard and
  // n_keep + n_discard <= n_past() (nothing is changed then).  n_discard = 0 does nothing.
  Status shift(int32_t n_keep, int32_t n_discard);
  const Model& model() const;

  struct Impl;

 private:
  explicit Context(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb
