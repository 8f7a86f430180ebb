// The forward pass: llama-style decoder blocks over a KV cache.  (olmo2 has no attn_norm or
// ffn_norm: h is x itself there.)
//
// Per block, for a chunk of T tokens (T = 1 when decoding):
//   h = rmsnorm(x) * attn_norm;  q, k, v = Wq h (+bq), Wk h (+bk), Wv h (+bv)   (or one fused Wqkv h)
//   [q, k = per-head rmsnorm(q) * q_norm, rmsnorm(k) * k_norm]   (qwen3, gemma3; olmo2: whole q, k;
//       Command R+: per-head LayerNorm with a weight vector per head)
//   rope(q, k)  [not in smollm3's NoPE layers];  [q *= 1 + s ln(floor(pos / n_ctx_orig) + 1)
//       (mistral3's temperature tuning)];  K/V cache[pos] = k, v
//   o = softmax(q k^T * scale, causal [, sliding window]) v   (GQA: n_head / n_head_kv query heads
//       share each KV head; scale 1/sqrt(head_dim) unless the architecture says otherwise)
//   x += [post_norm] Wo o;  h = rmsnorm(x) * ffn_norm;  x += [post_norm] Wdown (act(Wgate h) * Wup h)
//       (act = SiLU, or GELU for gemma3; phi3's Wgate and Wup come as one fused matrix)
// then logits = Woutput (rmsnorm(x) * output_norm)  [soft-capped: cap * tanh(logits / cap)].
// command-r: every norm a LayerNorm (mean subtracted), and the FFN reads the attention's h (no
// ffn_norm): x += Wo o + Wdown (act(Wgate h) * Wup h).
// Which of the bracketed steps run follows from the tensors a layer has and the hyper-parameters
// its architecture file set (model/arch/), so this file has no per-architecture branches.
//
// Every buffer is allocated in create(); eval() allocates nothing on the decode path.
// KV cache layout: [layer][kv_head][position][head_dim] values, stored as f32, f16 or q8_0 blocks
// (ContextParams::kv_type), so one head's keys for all positions are contiguous for the score
// loop.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <thread>

#include "gguf/quantize.h"
#include "kernels/kernels.h"
#include "model/model_impl.h"
#include "plumb/model.h"

namespace plumb {
namespace {

// gpt-oss's activation, as ggml's swiglu_oai with alpha 1.702 and limit 7: the gate clamped from
// above, the up projection on both sides, and 1 added to the latter.
void swiglu_oai_inplace(float* gate, const float* up, int64_t n) {
  constexpr float kAlpha = 1.702f, kLimit = 7.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float g = std::min(gate[i], kLimit);
    const float u = std::clamp(up[i], -kLimit, kLimit);
    gate[i] = g / (1.0f + std::exp(-kAlpha * g)) * (u + 1.0f);
  }
}

}  // namespace

struct Context::Impl {
  const Model* model = nullptr;
  const Model::Impl* m = nullptr;
  ModelHParams hp;
  int32_t n_ctx = 0, n_batch = 0, n_threads = 0;
  int32_t n_past = 0;
  int64_t q_dim = 0, kv_dim = 0;
  std::unique_ptr<kernels::ThreadPool> pool;
  kernels::Scratch scratch;

  TensorType kv_type = TensorType::kF32;  // kF32, kF16 or kQ8_0
  size_t kv_row_bytes = 0;                // one head's head_dim values at one position
  std::vector<uint8_t> k_cache, v_cache;
  // Activations, n_batch rows each.
  std::vector<float> x, xb, q, k, v, att, gate, up;
  std::vector<float> hn;                  // attn_norm(x), kept for the FFN of parallel blocks (command-r)
  std::vector<float> fused;               // outputs of fused attn_qkv / gate+up matrices, split after
  int64_t fused_width = 0;                // floats per token in `fused` (0: no fused matrices)
  // Mixture of experts: router logits [n_batch][n_expert]; each token's chosen experts and
  // weights [n_batch][n_expert_used]; gathered rows and outputs [n_batch][n_embd].
  std::vector<float> router, expert_w, moe_in, moe_down, moe_out;
  std::vector<int32_t> expert_id, expert_rows;
  std::vector<float> rope_cos, rope_sin;  // [2][n_batch][n_rot / 2]: set 1 for sliding-window layers (gemma3)
  const float* rope_factors = nullptr;    // divisors of the frequencies: rope_freqs, or LongRoPE's for this n_ctx
  std::vector<float> scores;              // [n_threads][4][n_ctx]: up to 4 query heads at a time
  std::vector<float> logits;              // last token
  std::vector<float> all_logits;          // [n_tokens][n_vocab] when asked for
  size_t n_all_logits = 0;
  bool keep_hidden = false;
  std::vector<float> hidden;              // [n_tokens][n_embd] when keep_hidden
  size_t n_hidden = 0;

  size_t kv_at(int64_t layer, int64_t kvh, int64_t pos) const {
    return static_cast<size_t>((layer * hp.n_head_kv + kvh) * n_ctx + pos) * kv_row_bytes;
  }
  uint8_t* kc(int64_t layer, int64_t kvh, int64_t pos) { return k_cache.data() + kv_at(layer, kvh, pos); }
  uint8_t* vc(int64_t layer, int64_t kvh, int64_t pos) { return v_cache.data() + kv_at(layer, kvh, pos); }
  // One head's head_dim values into / out of the cache's type (q8_0 as ggml rounds it).
  void store_kv(const float* x, uint8_t* row) const {
    switch (kv_type) {
      case TensorType::kF16: gguf::quantize_row_f16(x, row, hp.head_dim); break;
      case TensorType::kQ8_0: gguf::quantize_row_q8_0(x, row, hp.head_dim); break;
      default: std::memcpy(row, x, static_cast<size_t>(hp.head_dim) * sizeof(float)); break;
    }
  }
  void load_kv(const uint8_t* row, float* x) const {
    switch (kv_type) {
      case TensorType::kF16: gguf::dequantize_row_f16(row, x, hp.head_dim); break;
      case TensorType::kQ8_0: gguf::dequantize_row_q8_0(row, x, hp.head_dim); break;
      default: std::memcpy(x, row, static_cast<size_t>(hp.head_dim) * sizeof(float)); break;
    }
  }

  void mul(const model::Matrix& w, const float* in, int64_t n_tok, float* out) {
    if (n_tok == 1)
      kernels::matvec(w.type, w.data, w.n_rows, w.n_cols, in, out, *pool, scratch);
    else
      kernels::matmul(w.type, w.data, w.n_rows, w.n_cols, in, n_tok, out, *pool, scratch);
  }

  // Matrices that read the same input rows (q, k, v; gate, up).  Decoding, when they share a
  // type and width, they are one matvec_many call: one activation preparation and one wait for
  // the slowest thread instead of one per matrix.
  struct Product {
    const model::Matrix& w;
    float* out;
  };
  void mul_same_input(std::initializer_list<Product> products, const float* in, int64_t n_tok) {
    const model::Matrix& first = products.begin()->w;
    bool one_call = n_tok == 1 && products.size() <= 4;
    for (const Product& p : products) one_call = one_call && p.w.type == first.type && p.w.n_cols == first.n_cols;
    if (!one_call) {
      for (const Product& p : products) mul(p.w, in, n_tok, p.out);
      return;
    }
    kernels::MatvecPart parts[4];
    size_t n = 0;
    for (const Product& p : products) parts[n++] = {p.w.data, p.w.n_rows, p.out};
    kernels::matvec_many(first.type, {parts, n}, first.n_cols, in, *pool, scratch);
  }

  // The output's last steps: granite's logit scale, gemma2/3's soft-cap.
  void finish_logits(float* l, int64_t n) const {
    if (hp.logit_scale != 1.0f)
      for (int64_t i = 0; i < n; ++i) l[i] /= hp.logit_scale;
    if (hp.logit_softcap <= 0) return;
    const float cap = hp.logit_softcap, inv = 1.0f / hp.logit_softcap;
    for (int64_t i = 0; i < n; ++i) l[i] = cap * std::tanh(l[i] * inv);
  }
  // x += residual_scale * branch (granite scales its branches).
  void add_residual(int64_t n) {
    const float s = hp.residual_scale;
    for (int64_t i = 0; i < n; ++i) x[i] += s == 1.0f ? xb[i] : s * xb[i];
  }

  // The model's norm of n floats: RMSNorm, or LayerNorm for command-r.
  void norm(const float* in, const float* weight, float* out, int64_t n) const {
    if (hp.layer_norm)
      kernels::layernorm(in, weight, out, n, hp.rms_eps);
    else
      kernels::rmsnorm(in, weight, out, n, hp.rms_eps);
  }
  // norm() of the n_tok rows.  An absent weight (olmo2's missing pre-norms) copies the rows
  // unnormalised.
  void norm_rows(const float* in, const model::Vector& weight, float* out, int64_t n_tok) {
    if (!weight) {
      if (out != in) std::memcpy(out, in, static_cast<size_t>(n_tok * hp.n_embd) * sizeof(float));
      return;
    }
    for (int64_t t = 0; t < n_tok; ++t) norm(in + t * hp.n_embd, weight.data, out + t * hp.n_embd, hp.n_embd);
  }

  // Whether layer l attends through the sliding window, and which RoPE table set it uses.
  bool layer_swa(int64_t l) const {
    return hp.sliding_window > 0 && (hp.swa_period == 0 || l % hp.swa_period < hp.swa_period - 1);
  }
  int rope_set(int64_t l) const { return hp.rope_freq_base_swa > 0 && layer_swa(l) ? 1 : 0; }
  bool layer_rope(int64_t l) const { return hp.nope_period == 0 || (l + 1) % hp.nope_period != 0; }

  // with_mscale false: a pure rotation (the context shift re-rotates keys that already carry
  // rope_attn_factor).
  void rope_tables(int32_t pos0, int64_t n_tok, bool with_mscale = true);
  void rope(float* vecs, int64_t n_heads, int64_t t, int set);
  void attention(int64_t layer, int32_t pos0, int64_t n_tok);
  // row += bias, for a bias the layer has (an empty one adds nothing); n_tok rows of bias.n.
  static void add_bias(const model::Vector& bias, float* row) {
    for (int64_t i = 0; i < bias.n; ++i) row[i] += bias.data[i];
  }
  static void add_bias_rows(const model::Vector& bias, float* rows, int64_t n_tok) {
    if (bias)
      for (int64_t t = 0; t < n_tok; ++t) add_bias(bias, rows + t * bias.n);
  }
  // rows += expert e's row of a per-expert bias table (rows of `width`), for a table the layer has.
  static void add_expert_bias(const model::Vector& table, int32_t e, int64_t width, float* rows, int64_t n_rows) {
    if (!table) return;
    const float* b = table.data + static_cast<int64_t>(e) * width;
    for (int64_t r = 0; r < n_rows; ++r)
      for (int64_t i = 0; i < width; ++i) rows[r * width + i] += b[i];
  }
  // The FFN of xb (the normalised residual) into xb.
  void dense_ffn(const model::LayerWeights& L, int64_t n_tok);
  void moe_ffn(const model::LayerWeights& L, int64_t n_tok);
  bool moe_decode_one_token(const model::LayerWeights& L);
  void moe_batch(const model::LayerWeights& L, int64_t n_tok);
  void activate(int64_t n) {  // gate = act(gate) * up over n floats
    if (hp.ffn_swiglu_oai)
      swiglu_oai_inplace(gate.data(), up.data(), n);
    else if (hp.ffn_gelu)
      kernels::geglu_inplace(gate.data(), up.data(), n);
    else
      kernels::swiglu_inplace(gate.data(), up.data(), n);
  }
  Status eval_chunk(const int32_t* tokens, int64_t n_tok, bool all_logits, size_t logits_row);
};

Context::Context(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Context::~Context() = default;

Result<std::unique_ptr<Context>> Context::create(const Model& model, const ContextParams& params) {
  auto c = std::make_unique<Impl>();
  c->model = &model;
  c->m = &model.impl();
  c->hp = model.hparams();
  const ModelHParams& hp = c->hp;
  if (params.n_ctx < 0) return Status::InvalidArgument("context size " + std::to_string(params.n_ctx) + " is negative");
  if (params.n_batch < 0) return Status::InvalidArgument("batch size " + std::to_string(params.n_batch) + " is negative");
  if (params.n_threads < 0)
    return Status::InvalidArgument("thread count " + std::to_string(params.n_threads) + " is negative");
  if (params.kv_type != TensorType::kF32 && params.kv_type != TensorType::kF16 && params.kv_type != TensorType::kQ8_0)
    return Status::InvalidArgument("KV cache type " + std::string(tensor_type_name(params.kv_type)) +
                                   " is not supported; expected f32, f16 or q8_0");
  if (params.kv_type == TensorType::kQ8_0 && hp.head_dim % gguf::kQK8_0 != 0)
    return Status::InvalidArgument("KV cache type q8_0 stores each head in blocks of 32 values, but this model's head "
                                   "size is " + std::to_string(hp.head_dim) + "; use f16 or f32");
  c->kv_type = params.kv_type;
  const auto hd = static_cast<size_t>(hp.head_dim);
  c->kv_row_bytes = params.kv_type == TensorType::kQ8_0  ? hd / gguf::kQK8_0 * sizeof(gguf::block_q8_0)
                    : params.kv_type == TensorType::kF16 ? hd * sizeof(uint16_t)
                                                         : hd * sizeof(float);
  c->n_ctx = params.n_ctx > 0 ? params.n_ctx : static_cast<int32_t>(std::min<int64_t>(hp.n_ctx_train, 4096));
  c->n_batch = std::max(1, std::min(params.n_batch > 0 ? params.n_batch : 512, c->n_ctx));
  c->n_threads = params.n_threads > 0 ? params.n_threads
                                      : static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  c->q_dim = hp.n_head * hp.head_dim;
  c->kv_dim = hp.n_head_kv * hp.head_dim;
  // Bytes of the K cache (and of the V cache).
  const size_t cache = static_cast<size_t>(hp.n_layer) * static_cast<size_t>(hp.n_head_kv) *
                       static_cast<size_t>(c->n_ctx) * c->kv_row_bytes;
  const size_t B = static_cast<size_t>(c->n_batch);
  try {
    c->k_cache.assign(cache, 0);
    c->v_cache.assign(cache, 0);
    c->x.resize(B * hp.n_embd);
    c->xb.resize(B * std::max(hp.n_embd, c->q_dim));
    if (hp.parallel_blocks) c->hn.resize(B * hp.n_embd);
    c->q.resize(B * c->q_dim);
    c->k.resize(B * c->kv_dim);
    c->v.resize(B * c->kv_dim);
    c->att.resize(B * c->q_dim);
    const int64_t ff_width = std::max({hp.n_ff, hp.n_expert > 0 ? hp.n_ff_exp : 0, hp.n_expert > 0 ? hp.n_ff_shexp : 0});
    c->gate.resize(B * ff_width);
    c->up.resize(B * ff_width);
    if (hp.n_expert > 0) {
      c->router.resize(B * hp.n_expert);
      c->expert_w.resize(B * hp.n_expert_used);
      c->expert_id.resize(B * hp.n_expert_used);
      c->expert_rows.resize(B);
      c->moe_in.resize(B * hp.n_embd);
      c->moe_down.resize(B * hp.n_embd);
      c->moe_out.resize(B * hp.n_embd);
    }
    for (const model::LayerWeights& L : c->m->w.layers) {
      if (L.wqkv) c->fused_width = std::max(c->fused_width, c->q_dim + 2 * c->kv_dim);
      if (!L.ffn_gate) c->fused_width = std::max(c->fused_width, 2 * hp.n_ff);
    }
    c->fused.resize(B * static_cast<size_t>(c->fused_width));
    c->rope_cos.resize(2 * B * (hp.n_rot / 2));
    c->rope_sin.resize(2 * B * (hp.n_rot / 2));
    c->scores.resize(static_cast<size_t>(c->n_threads) * 4 * c->n_ctx);
    c->logits.resize(hp.n_vocab);
  } catch (const std::bad_alloc&) {
    return Status::OutOfRange("not enough memory for a context of " + std::to_string(c->n_ctx) +
                              " tokens (KV cache " + std::to_string(2 * cache >> 20) +
                              " MiB); lower -c");
  }
  c->keep_hidden = params.embeddings;
  // As llama.cpp: LongRoPE's long factors once the context exceeds the original one.
  const model::Weights& w = c->m->w;
  c->rope_factors = w.rope_freqs.data;
  if (hp.has_long_rope) c->rope_factors = c->n_ctx > hp.n_ctx_orig ? w.rope_long.data : w.rope_short.data;
  c->pool = std::make_unique<kernels::ThreadPool>(c->n_threads);
  return std::unique_ptr<Context>(new Context(std::move(c)));
}

std::span<const float> Context::logits() const { return impl_->logits; }
std::span<const float> Context::logits_at(size_t i) const {
  assert(i < impl_->n_all_logits);
  const size_t nv = static_cast<size_t>(impl_->hp.n_vocab);
  return std::span<const float>(impl_->all_logits.data() + i * nv, nv);
}
std::span<const float> Context::hidden_at(size_t i) const {
  assert(impl_->keep_hidden && i < impl_->n_hidden);
  const size_t E = static_cast<size_t>(impl_->hp.n_embd);
  return std::span<const float>(impl_->hidden.data() + i * E, E);
}
int32_t Context::n_past() const { return impl_->n_past; }
int32_t Context::n_ctx() const { return impl_->n_ctx; }
int32_t Context::n_threads() const { return impl_->n_threads; }
const Model& Context::model() const { return *impl_->model; }
void Context::truncate(int32_t n) { impl_->n_past = std::clamp(n, 0, impl_->n_past); }

Status Context::shift(int32_t n_keep, int32_t n_discard) {
  Impl& c = *impl_;
  if (n_keep < 0 || n_discard < 0 || static_cast<int64_t>(n_keep) + n_discard > c.n_past)
    return Status::InvalidArgument("context shift: keeping " + std::to_string(n_keep) + " and discarding " +
                                   std::to_string(n_discard) + " positions needs 0 <= keep, 0 <= discard and "
                                   "keep + discard <= the " + std::to_string(c.n_past) +
                                   " positions the context holds");
  if (n_discard == 0) return Status::Ok();
  const int64_t hd = c.hp.head_dim;
  const int32_t n_moved = c.n_past - n_keep - n_discard;
  // The forward pass's own tables and rotation, for one "position" of -n_discard: rotating a
  // key cached at p by theta(-d) gives theta(p - d), since every angle is linear in the
  // position (freq base, linear scaling and rope_freqs factors included).
  c.rope_tables(-n_discard, 1, /*with_mscale=*/false);
  // Each (layer, KV head) is its own slab of the cache: the threads take whole slabs.
  const int64_t n_kv = c.hp.n_head_kv;
  Impl* impl = &c;
  c.pool->parallel_for(c.hp.n_layer * n_kv, [impl, n_kv, n_keep, n_discard, n_moved, hd](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t l = i / n_kv, h = i % n_kv;
      const size_t n_bytes = static_cast<size_t>(n_moved) * impl->kv_row_bytes;
      uint8_t* k_dst = impl->kc(l, h, n_keep);
      std::memmove(k_dst, impl->kc(l, h, n_keep + n_discard), n_bytes);
      std::memmove(impl->vc(l, h, n_keep), impl->vc(l, h, n_keep + n_discard), n_bytes);
      if (!impl->layer_rope(l)) continue;
      if (impl->kv_type == TensorType::kF32) {
        // One head's positions are contiguous, head_dim apart: rope() sees them as n_moved heads.
        impl->rope(reinterpret_cast<float*>(k_dst), n_moved, 0, impl->rope_set(l));
        continue;
      }
      // Each key through floats: rotated, then rounded to the cache's type again.
      std::vector<float> row(static_cast<size_t>(hd));
      for (int32_t p = 0; p < n_moved; ++p) {
        uint8_t* key = k_dst + static_cast<size_t>(p) * impl->kv_row_bytes;
        impl->load_kv(key, row.data());
        impl->rope(row.data(), 1, 0, impl->rope_set(l));
        impl->store_kv(row.data(), key);
      }
    }
  });
  c.n_past -= n_discard;
  return Status::Ok();
}

Status Context::eval(std::span<const int32_t> tokens, bool all_logits) {
  Impl& c = *impl_;
  if (tokens.empty()) return Status::InvalidArgument("eval: no tokens");
  if (static_cast<int64_t>(c.n_past) + static_cast<int64_t>(tokens.size()) > c.n_ctx)
    return Status::OutOfRange("context is full: " + std::to_string(c.n_past) + " tokens in the context plus " +
                              std::to_string(tokens.size()) + " new ones exceed its size of " +
                              std::to_string(c.n_ctx) + " tokens (raise -c/--ctx-size, at most the model's " +
                              std::to_string(c.hp.n_ctx_train) + ")");
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= c.hp.n_vocab)
      return Status::InvalidArgument("token #" + std::to_string(i) + " has id " + std::to_string(tokens[i]) +
                                     ", outside the vocabulary [0, " + std::to_string(c.hp.n_vocab) + ")");
  if (all_logits) {
    c.all_logits.resize(tokens.size() * static_cast<size_t>(c.hp.n_vocab));
    c.n_all_logits = tokens.size();
  } else {
    c.n_all_logits = 0;
  }
  if (c.keep_hidden) {
    c.hidden.resize(tokens.size() * static_cast<size_t>(c.hp.n_embd));
    c.n_hidden = tokens.size();
  }
  for (size_t done = 0; done < tokens.size();) {
    const int64_t n = std::min<int64_t>(c.n_batch, static_cast<int64_t>(tokens.size() - done));
    PLUMB_RETURN_IF_ERROR(c.eval_chunk(tokens.data() + done, n, all_logits, done));
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

void Context::Impl::rope_tables(int32_t pos0, int64_t n_tok, bool with_mscale) {
  const int64_t half = hp.n_rot / 2;
  const float* ff = rope_factors;
  const double mscale = with_mscale ? hp.rope_attn_factor : 1.0;
  const size_t set_size = static_cast<size_t>(n_batch) * static_cast<size_t>(half);
  for (int set = 0; set < (hp.rope_freq_base_swa > 0 ? 2 : 1); ++set) {
    // Set 1: the sliding-window layers' own base and scaling (gemma3: 10000, unscaled).
    const double base = set == 0 ? hp.rope_freq_base : hp.rope_freq_base_swa;
    const double scale = set == 0 ? hp.rope_freq_scale : hp.rope_freq_scale_swa;
    float* cos_out = rope_cos.data() + set * set_size;
    float* sin_out = rope_sin.data() + set * set_size;
    // Per pair i, the angle is pos * mult[i]: the plain frequency times the scale, or with YaRN a
    // ramp from the scaled frequency (pairs of long wavelength) to the unscaled one (short).
    double set_mscale = mscale;
    double low = 0, high = 0;
    if (hp.rope_yarn) {
      // ggml_rope_yarn_corr_dims: the pairs that turn beta_fast (32) and beta_slow (1) times
      // over the original context.
      const double n_rot = static_cast<double>(hp.n_rot), n_orig = static_cast<double>(hp.n_ctx_orig);
      auto corr_dim = [&](double turns) { return n_rot * std::log(n_orig / (turns * 2 * M_PI)) / (2 * std::log(base)); };
      low = std::max(0.0, std::floor(corr_dim(hp.yarn_beta_fast)));
      high = std::min(n_rot - 1, std::ceil(corr_dim(hp.yarn_beta_slow)));
      // ggml multiplies by 1 + 0.1 ln(factor); with a log multiplier m, llama.cpp's context
      // divides its attention factor by 1 + 0.1 m ln(factor) (transformers' mscale_all_dim).
      const double ln_factor = std::log(1.0 / scale);
      if (with_mscale) set_mscale *= (1.0 + 0.1 * ln_factor) / (1.0 + 0.1 * hp.yarn_log_mul * ln_factor);
    }
    for (int64_t i = 0; i < half; ++i) {
      double freq = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(hp.n_rot));
      if (ff != nullptr) freq /= ff[i];
      double mult = freq * scale;
      if (hp.rope_yarn) {
        const double ramp = 1.0 - std::clamp((static_cast<double>(i) - low) / std::max(0.001, high - low), 0.0, 1.0);
        mult = mult * (1.0 - ramp) + freq * ramp;
      }
      for (int64_t t = 0; t < n_tok; ++t) {
        const double theta = static_cast<double>(pos0 + t) * mult;
        cos_out[t * half + i] = static_cast<float>(std::cos(theta) * set_mscale);
        sin_out[t * half + i] = static_cast<float>(std::sin(theta) * set_mscale);
      }
    }
  }
}

void Context::Impl::rope(float* vecs, int64_t n_heads, int64_t t, int set) {
  const int64_t half = hp.n_rot / 2;
  const size_t set_size = static_cast<size_t>(n_batch) * static_cast<size_t>(half);
  const float* cs = rope_cos.data() + set * set_size + t * half;
  const float* sn = rope_sin.data() + set * set_size + t * half;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* x = vecs + h * hp.head_dim;
    if (hp.rope_type == RopeType::kNorm) {
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        x[2 * i] = x0 * cs[i] - x1 * sn[i];
        x[2 * i + 1] = x0 * sn[i] + x1 * cs[i];
      }
    } else {
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = x[i], x1 = x[i + half];
        x[i] = x0 * cs[i] - x1 * sn[i];
        x[i + half] = x0 * sn[i] + x1 * cs[i];
      }
    }
  }
}

namespace {
// softmax over n scores and one more logit, the sink, whose share is dropped (it weighs no
// value row): s_i = exp(s_i - m) / (exp(sink - m) + sum_j exp(s_j - m)), m the largest of all, as
// ggml's soft_max with sinks.  The vector softmax over the scores leaves 1 / Z at their largest
// (Z = sum_j exp(s_j - M), M = max s_j), so the sink only rescales: by Z / (Z + exp(sink - M)).
void softmax_with_sink(float* s, int64_t n, float sink) {
  int64_t top = 0;
  for (int64_t i = 1; i < n; ++i)
    if (s[i] > s[top]) top = i;
  const double sink_weight = std::exp(static_cast<double>(sink) - static_cast<double>(s[top]));
  kernels::softmax_inplace(s, n);
  const double inv_z = s[top];
  const auto rescale = static_cast<float>(1.0 / (1.0 + sink_weight * inv_z));
  for (int64_t i = 0; i < n; ++i) s[i] *= rescale;
}

// parallel_for takes a std::function; capturing one pointer keeps it in the small-object
// buffer, so no allocation per call.
struct AttnJob {
  Context::Impl* c;
  int64_t layer;
  int32_t pos0;
};
}  // namespace

void Context::Impl::attention(int64_t layer, int32_t pos0, int64_t n_tok) {
  AttnJob job{this, layer, pos0};
  const AttnJob* jp = &job;
  // One item per token, KV head and run of up to four of the query heads that share it: they
  // read the KV head's cached rows together (kernels::dot_rows_multi_f32 and
  // weighted_sum_multi_f32 take four at a time), and a model with one or two KV heads still has
  // items for every thread.
  auto body = [jp](int64_t begin, int64_t end, int thread) {
    Context::Impl& c = *jp->c;
    const ModelHParams& hp = c.hp;
    const int64_t hd = hp.head_dim, group = hp.n_head / hp.n_head_kv;
    const int64_t runs = (group + 3) / 4;
    const float scale = hp.attn_scale > 0 ? hp.attn_scale : 1.0f / std::sqrt(static_cast<float>(hd));
    const int64_t window = c.layer_swa(jp->layer) ? hp.sliding_window : 0;
    const float cap = hp.attn_softcap, inv_cap = cap > 0 ? 1.0f / cap : 0.0f;
    const float* sinks = c.m->w.layers[static_cast<size_t>(jp->layer)].attn_sinks.data;
    float* sc = c.scores.data() + static_cast<size_t>(thread) * 4 * c.n_ctx;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / (hp.n_head_kv * runs), kvh = item / runs % hp.n_head_kv, run = item % runs;
      const int64_t h0 = kvh * group + 4 * run, nq = std::min<int64_t>(4, group - 4 * run);
      const int64_t pos = jp->pos0 + t;
      const int64_t start = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
      const float* qh = c.q.data() + t * c.q_dim + h0 * hd;
      // A head's cached positions are consecutive rows of hd floats; query j's scores are at
      // sc + j * n_ctx.
      const int64_t n = pos - start + 1;
      const uint8_t* keys = c.kc(jp->layer, kvh, start);
      switch (c.kv_type) {
        case TensorType::kF16:
          kernels::dot_rows_multi_f16(qh, hd, static_cast<int>(nq), reinterpret_cast<const uint16_t*>(keys), hd, n, hd,
                                      scale, sc, c.n_ctx);
          break;
        case TensorType::kQ8_0:
          kernels::dot_rows_multi_q8_0(qh, hd, static_cast<int>(nq), keys, hd, n, hd, scale, sc, c.n_ctx);
          break;
        default:
          kernels::dot_rows_multi_f32(qh, hd, static_cast<int>(nq), reinterpret_cast<const float*>(keys), hd, n, hd,
                                      scale, sc, c.n_ctx);
          break;
      }
      for (int64_t j = 0; j < nq; ++j) {
        float* s = sc + j * c.n_ctx;
        if (cap > 0)
          for (int64_t i = 0; i < n; ++i) s[i] = cap * std::tanh(s[i] * inv_cap);
        if (sinks != nullptr)
          softmax_with_sink(s, n, sinks[h0 + j]);
        else
          kernels::softmax_inplace(s, n);
      }
      float* o = c.att.data() + t * c.q_dim + h0 * hd;
      const uint8_t* values = c.vc(jp->layer, kvh, start);
      switch (c.kv_type) {
        case TensorType::kF16:
          kernels::weighted_sum_multi_f16(sc, c.n_ctx, static_cast<int>(nq), reinterpret_cast<const uint16_t*>(values),
                                          hd, n, hd, o, hd);
          break;
        case TensorType::kQ8_0:
          kernels::weighted_sum_multi_q8_0(sc, c.n_ctx, static_cast<int>(nq), values, hd, n, hd, o, hd);
          break;
        default:
          kernels::weighted_sum_multi_f32(sc, c.n_ctx, static_cast<int>(nq), reinterpret_cast<const float*>(values), hd,
                                          n, hd, o, hd);
          break;
      }
    }
  };
  // Waking the pool costs microseconds; small attention (short contexts, tiny models) is
  // cheaper on the calling thread.
  const int64_t items = n_tok * hp.n_head_kv * ((hp.n_head / hp.n_head_kv + 3) / 4);
  const int64_t work = n_tok * hp.n_head * (pos0 + n_tok) * hp.head_dim;
  if (work < (1 << 15) || pool->size() == 1)
    body(0, items, 0);
  else
    pool->parallel_for(items, body);
}

void Context::Impl::dense_ffn(const model::LayerWeights& L, int64_t n_tok) {
  if (L.ffn_gate) {
    mul_same_input({{L.ffn_gate, gate.data()}, {L.ffn_up, up.data()}}, xb.data(), n_tok);
    add_bias_rows(L.ffn_gate_b, gate.data(), n_tok);
    add_bias_rows(L.ffn_up_b, up.data(), n_tok);
  } else {
    // Fused: each token's 2 * n_ff outputs are the gate's, then the up projection's.
    const int64_t F = hp.n_ff;
    mul(L.ffn_up, xb.data(), n_tok, fused.data());
    for (int64_t t = 0; t < n_tok; ++t) {
      std::memcpy(gate.data() + t * F, fused.data() + t * 2 * F, static_cast<size_t>(F) * sizeof(float));
      std::memcpy(up.data() + t * F, fused.data() + t * 2 * F + F, static_cast<size_t>(F) * sizeof(float));
    }
  }
  activate(n_tok * hp.n_ff);
  mul(L.ffn_down, gate.data(), n_tok, xb.data());
  add_bias_rows(L.ffn_down_b, xb.data(), n_tok);
}

// Mixture of experts, as llama.cpp's build_moe_ffn with softmax gating (Mixtral, qwen3moe,
// qwen2moe): per token, p = softmax(router h); the n_expert_used experts of largest p run, and
// their outputs are summed with weights p / (sum of the chosen p), or p itself for qwen2moe, plus
// qwen2moe's shared expert.  gpt-oss: the router and every expert matrix have a bias, the
// experts of largest logit run, and their weights are a softmax over the chosen logits.  xb holds
// h on entry and the FFN output on return.
void Context::Impl::moe_ffn(const model::LayerWeights& L, int64_t n_tok) {
  const int64_t E = hp.n_embd, X = hp.n_expert, K = hp.n_expert_used;
  mul(L.ffn_gate_inp, xb.data(), n_tok, router.data());
  add_bias_rows(L.ffn_gate_inp_b, router.data(), n_tok);
  for (int64_t t = 0; t < n_tok; ++t) {
    float* p = router.data() + t * X;
    if (!hp.moe_softmax_after_topk) kernels::softmax_inplace(p, X);
    int32_t* ids = expert_id.data() + t * K;
    float* ws = expert_w.data() + t * K;
    // Top K by probability (gpt-oss: by logit, the same order); ties go to the lower expert index.
    for (int64_t j = 0; j < K; ++j) {
      int32_t best = -1;
      for (int32_t e = 0; e < X; ++e) {
        bool taken = false;
        for (int64_t i = 0; i < j; ++i) taken = taken || ids[i] == e;
        if (!taken && (best < 0 || p[e] > p[best])) best = e;
      }
      ids[j] = best;
      ws[j] = p[best];
    }
    if (hp.moe_softmax_after_topk) {
      kernels::softmax_inplace(ws, K);
    } else if (hp.moe_norm_weights) {
      float sum = 0;
      for (int64_t j = 0; j < K; ++j) sum += ws[j];
      sum = std::max(sum, 6.103515625e-5f);  // llama.cpp's clamp against a zero sum
      for (int64_t j = 0; j < K; ++j) ws[j] /= sum;
    }
  }
  std::fill(moe_out.begin(), moe_out.begin() + n_tok * E, 0.0f);
  if (n_tok != 1 || !moe_decode_one_token(L)) moe_batch(L, n_tok);
  if (L.ffn_up_shexp) {
    // The shared expert runs on every token; its output is weighted by sigmoid(gate_inp_shexp . h)
    // where the layer has that gate, else added as it is.
    const int64_t S = hp.n_ff_shexp;
    mul_same_input({{L.ffn_gate_shexp, gate.data()}, {L.ffn_up_shexp, up.data()}}, xb.data(), n_tok);
    activate(n_tok * S);
    mul(L.ffn_down_shexp, gate.data(), n_tok, moe_down.data());
    for (int64_t t = 0; t < n_tok; ++t) {
      float weight = 1.0f;
      if (L.ffn_gate_inp_shexp) {
        const float g = kernels::dot_f32(L.ffn_gate_inp_shexp.data, xb.data() + t * E, E);
        weight = 1.0f / (1.0f + std::exp(-g));
      }
      kernels::axpy_f32(weight, moe_down.data() + t * E, moe_out.data() + t * E, E);
    }
  }
  std::memcpy(xb.data(), moe_out.data(), static_cast<size_t>(n_tok * E) * sizeof(float));
}

// One token: the chosen experts' gate and up projections in one matvec call (they read the same
// h), and their down projections in a second (each reads its own expert's activation), where a
// call per matrix paid a start and a wait for the slowest thread each.  Each row's product is
// the one a call per expert gives.  False (nothing done) when the experts' gate and up differ in
// type or the buffers hold fewer than n_expert_used rows.
bool Context::Impl::moe_decode_one_token(const model::LayerWeights& L) {
  const int64_t E = hp.n_embd, F = hp.n_ff_exp, K = hp.n_expert_used;
  constexpr int64_t kMaxUsed = 16;
  if (K > kMaxUsed || K > n_batch || L.ffn_gate_exps.first.type != L.ffn_up_exps.first.type) return false;
  kernels::MatvecPart parts[2 * kMaxUsed];
  for (int64_t j = 0; j < K; ++j) {
    const int32_t e = expert_id[j];
    parts[2 * j] = {L.ffn_gate_exps.at(e).data, F, gate.data() + j * F};
    parts[2 * j + 1] = {L.ffn_up_exps.at(e).data, F, up.data() + j * F};
  }
  kernels::matvec_many(L.ffn_gate_exps.first.type, {parts, static_cast<size_t>(2 * K)}, E, xb.data(), *pool, scratch);
  for (int64_t j = 0; j < K; ++j) {
    add_expert_bias(L.ffn_gate_exps_b, expert_id[j], F, gate.data() + j * F, 1);
    add_expert_bias(L.ffn_up_exps_b, expert_id[j], F, up.data() + j * F, 1);
  }
  activate(K * F);
  for (int64_t j = 0; j < K; ++j)
    parts[j] = {L.ffn_down_exps.at(expert_id[j]).data, E, moe_down.data() + j * E, gate.data() + j * F};
  kernels::matvec_many(L.ffn_down_exps.first.type, {parts, static_cast<size_t>(K)}, F, nullptr, *pool, scratch);
  for (int64_t j = 0; j < K; ++j) {
    add_expert_bias(L.ffn_down_exps_b, expert_id[j], E, moe_down.data() + j * E, 1);
    kernels::axpy_f32(expert_w[j], moe_down.data() + j * E, moe_out.data(), E);
  }
  return true;
}

// A batch: each expert runs once over the tokens routed to it (gathered into moe_in), so every
// expert's weights are read once per batch.
void Context::Impl::moe_batch(const model::LayerWeights& L, int64_t n_tok) {
  const int64_t E = hp.n_embd, F = hp.n_ff_exp, X = hp.n_expert, K = hp.n_expert_used;
  for (int32_t e = 0; e < X; ++e) {
    // The tokens routed to expert e, their rows gathered into moe_in.
    int64_t m = 0;
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t j = 0; j < K; ++j)
        if (expert_id[t * K + j] == e) expert_rows[m++] = static_cast<int32_t>(t * K + j);
    if (m == 0) continue;
    const float* in = xb.data();
    if (n_tok > 1) {
      for (int64_t i = 0; i < m; ++i)
        std::memcpy(moe_in.data() + i * E, xb.data() + (expert_rows[i] / K) * E, static_cast<size_t>(E) * sizeof(float));
      in = moe_in.data();
    }
    const model::Matrix eg = L.ffn_gate_exps.at(e), eu = L.ffn_up_exps.at(e);
    mul_same_input({{eg, gate.data()}, {eu, up.data()}}, in, m);
    add_expert_bias(L.ffn_gate_exps_b, e, F, gate.data(), m);
    add_expert_bias(L.ffn_up_exps_b, e, F, up.data(), m);
    activate(m * F);
    mul(L.ffn_down_exps.at(e), gate.data(), m, moe_down.data());
    add_expert_bias(L.ffn_down_exps_b, e, E, moe_down.data(), m);
    for (int64_t i = 0; i < m; ++i) {
      const float w = expert_w[expert_rows[i]];
      float* out = moe_out.data() + (expert_rows[i] / K) * E;
      kernels::axpy_f32(w, moe_down.data() + i * E, out, E);
    }
  }
}

Status Context::Impl::eval_chunk(const int32_t* tokens, int64_t n_tok, bool want_all, size_t logits_row) {
  const model::Weights& w = m->w;
  const int64_t E = hp.n_embd;
  const int32_t pos0 = n_past;

  for (int64_t t = 0; t < n_tok; ++t) {
    const auto* row = static_cast<const uint8_t*>(w.tok_embd.data) +
                      static_cast<size_t>(tokens[t]) * kernels::row_size(w.tok_embd.type, E);
    kernels::dequantize_row(w.tok_embd.type, row, x.data() + t * E, E);
    if (hp.embd_scale != 1.0f)
      for (int64_t i = 0; i < E; ++i) x[t * E + i] *= hp.embd_scale;
  }
  rope_tables(pos0, n_tok);

  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const model::LayerWeights& L = w.layers[static_cast<size_t>(l)];
    norm_rows(x.data(), L.attn_norm, xb.data(), n_tok);
    // command-r's FFN reads the same normalised rows as its attention.
    if (hp.parallel_blocks) std::memcpy(hn.data(), xb.data(), static_cast<size_t>(n_tok * E) * sizeof(float));
    if (L.wqkv) {
      // One pass over the fused rows; each token's [q | k | v] is then split into q, k and v.
      const int64_t width = q_dim + 2 * kv_dim;
      mul(L.wqkv, xb.data(), n_tok, fused.data());
      for (int64_t t = 0; t < n_tok; ++t) {
        const float* src = fused.data() + t * width;
        std::memcpy(q.data() + t * q_dim, src, static_cast<size_t>(q_dim) * sizeof(float));
        std::memcpy(k.data() + t * kv_dim, src + q_dim, static_cast<size_t>(kv_dim) * sizeof(float));
        std::memcpy(v.data() + t * kv_dim, src + q_dim + kv_dim, static_cast<size_t>(kv_dim) * sizeof(float));
      }
    } else {
      mul_same_input({{L.wq, q.data()}, {L.wk, k.data()}, {L.wv, v.data()}}, xb.data(), n_tok);
    }
    for (int64_t t = 0; t < n_tok; ++t) {
      float* qt = q.data() + t * q_dim;
      float* kt = k.data() + t * kv_dim;
      float* vt = v.data() + t * kv_dim;
      add_bias(L.bq, qt);
      add_bias(L.bk, kt);
      add_bias(L.bv, vt);
      if (L.q_norm && !hp.qk_norm_per_head && L.q_norm.n == q_dim && q_dim != hp.head_dim) {
        // olmo2: over the whole q and k
        kernels::rmsnorm(qt, L.q_norm.data, qt, q_dim, hp.rms_eps);
        kernels::rmsnorm(kt, L.k_norm.data, kt, kv_dim, hp.rms_eps);
      } else if (L.q_norm) {
        // Each head on its own (qwen3, gemma3: one weight vector for all heads; Command R+: a
        // LayerNorm, with a weight vector per head).
        const int64_t hd = hp.head_dim, stride = hp.qk_norm_per_head ? hd : 0;
        for (int64_t h = 0; h < hp.n_head; ++h) norm(qt + h * hd, L.q_norm.data + h * stride, qt + h * hd, hd);
        for (int64_t h = 0; h < hp.n_head_kv; ++h) norm(kt + h * hd, L.k_norm.data + h * stride, kt + h * hd, hd);
      }
      if (layer_rope(l)) {
        rope(qt, hp.n_head, t, rope_set(l));
        rope(kt, hp.n_head_kv, t, rope_set(l));
      }
      if (hp.attn_temp_scale != 0.0f) {
        const double floors = std::floor(static_cast<double>(pos0 + t) / static_cast<double>(hp.n_ctx_orig));
        const auto temp = static_cast<float>(std::log(floors + 1.0) * hp.attn_temp_scale + 1.0);
        for (int64_t i = 0; i < q_dim; ++i) qt[i] *= temp;
      }
      for (int64_t h = 0; h < hp.n_head_kv; ++h) {
        store_kv(kt + h * hp.head_dim, kc(l, h, pos0 + t));
        store_kv(vt + h * hp.head_dim, vc(l, h, pos0 + t));
      }
    }
    attention(l, pos0, n_tok);
    mul(L.wo, att.data(), n_tok, xb.data());
    add_bias_rows(L.bo, xb.data(), n_tok);
    if (L.attn_post_norm) norm_rows(xb.data(), L.attn_post_norm, xb.data(), n_tok);
    add_residual(n_tok * E);

    if (hp.parallel_blocks)
      std::memcpy(xb.data(), hn.data(), static_cast<size_t>(n_tok * E) * sizeof(float));
    else
      norm_rows(x.data(), L.ffn_norm, xb.data(), n_tok);
    if (L.ffn_gate_inp)
      moe_ffn(L, n_tok);
    else
      dense_ffn(L, n_tok);
    if (L.ffn_post_norm) norm_rows(xb.data(), L.ffn_post_norm, xb.data(), n_tok);
    add_residual(n_tok * E);
  }

  n_past += static_cast<int32_t>(n_tok);
  if (keep_hidden) norm_rows(x.data(), w.output_norm, hidden.data() + logits_row * static_cast<size_t>(E), n_tok);
  const int64_t nv = hp.n_vocab;
  if (want_all) {
    norm_rows(x.data(), w.output_norm, xb.data(), n_tok);
    float* dst = all_logits.data() + logits_row * static_cast<size_t>(nv);
    mul(w.output, xb.data(), n_tok, dst);
    finish_logits(dst, n_tok * nv);
    std::memcpy(logits.data(), dst + (n_tok - 1) * nv, static_cast<size_t>(nv) * sizeof(float));
  } else {
    norm_rows(x.data() + (n_tok - 1) * E, w.output_norm, xb.data(), 1);
    mul(w.output, xb.data(), 1, logits.data());
    finish_logits(logits.data(), nv);
  }
  return Status::Ok();
}

}  // namespace plumb
