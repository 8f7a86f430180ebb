#include "model/reference_forward.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/half.h"
#include "gguf/quantize.h"
#include "kernels/kernels.h"

namespace plumb::test {
namespace {

using Vec = std::vector<double>;

struct Mat {  // rows x cols, row-major
  int64_t rows = 0, cols = 0;
  std::vector<double> a;
  const double* row(int64_t r) const { return a.data() + r * cols; }
};

Mat load(const gguf::File& f, const std::string& name) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  Mat m;
  if (!t) return m;
  m.cols = t->shape[0];
  m.rows = t->shape.size() > 1 ? t->shape[1] : 1;
  m.a.resize(static_cast<size_t>(m.rows * m.cols));
  auto bytes = f.tensor_data(*t);
  const size_t row_bytes = bytes.size() / static_cast<size_t>(m.rows);
  std::vector<float> tmp(static_cast<size_t>(m.cols));
  for (int64_t r = 0; r < m.rows; ++r) {
    const uint8_t* src = bytes.data() + r * row_bytes;
    // gguf's reference conversions where they exist; the kernels' for the K-quants.
    if (gguf::dequantize_row(t->type, src, tmp.data(), m.cols).ok() == false)
      kernels::dequantize_row(t->type, src, tmp.data(), m.cols);
    for (int64_t c = 0; c < m.cols; ++c) m.a[r * m.cols + c] = tmp[c];
  }
  return m;
}

Vec matvec(const Mat& w, const Vec& x) {
  Vec y(static_cast<size_t>(w.rows), 0.0);
  for (int64_t r = 0; r < w.rows; ++r) {
    double s = 0;
    for (int64_t c = 0; c < w.cols; ++c) s += w.row(r)[c] * x[c];
    y[r] = s;
  }
  return y;
}

Vec rmsnorm(const Vec& x, const Mat& w, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double scale = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * scale * w.a[i];
  return y;
}

Vec layernorm(const Vec& x, const Mat& w, double eps) {
  double mean = 0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(x.size());
  double var = 0;
  for (double v : x) var += (v - mean) * (v - mean);
  const double scale = 1.0 / std::sqrt(var / static_cast<double>(x.size()) + eps);
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = (x[i] - mean) * scale * w.a[i];
  return y;
}

// A [cols, rows, n] tensor as n matrices.
std::vector<Mat> load_stack(const gguf::File& f, const std::string& name) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  EXPECT_TRUE(t != nullptr && t->shape.size() == 3) << name;
  std::vector<Mat> out;
  if (!t || t->shape.size() != 3) return out;
  const int64_t cols = t->shape[0], rows = t->shape[1], n = t->shape[2];
  auto bytes = f.tensor_data(*t);
  const size_t row_bytes = bytes.size() / static_cast<size_t>(rows * n);
  std::vector<float> tmp(static_cast<size_t>(cols));
  for (int64_t e = 0; e < n; ++e) {
    Mat m;
    m.cols = cols;
    m.rows = rows;
    m.a.resize(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* src = bytes.data() + (e * rows + r) * row_bytes;
      if (gguf::dequantize_row(t->type, src, tmp.data(), cols).ok() == false)
        kernels::dequantize_row(t->type, src, tmp.data(), cols);
      for (int64_t c = 0; c < cols; ++c) m.a[r * cols + c] = tmp[c];
    }
    out.push_back(std::move(m));
  }
  return out;
}

int64_t key_int(const gguf::File& f, const std::string& k, int64_t fallback) {
  return f.find(k) ? f.get_int(k).value() : fallback;
}
double key_float(const gguf::File& f, const std::string& k, double fallback) {
  return f.find(k) ? f.get_float(k).value() : fallback;
}

// One head's values rounded as ggml's quantize_row_q8_0_ref stores them, block by block, in
// float as it computes: d = amax / 127, q = roundf(x / d), value = q * fp16(d).
void round_q8_0(double* x, int64_t n) {
  for (int64_t b = 0; b + 32 <= n; b += 32) {
    float amax = 0.0f;
    for (int64_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(static_cast<float>(x[i])));
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    const double stored_d = fp16_to_fp32(fp32_to_fp16(d));
    for (int64_t i = b; i < b + 32; ++i) x[i] = std::round(static_cast<float>(x[i]) * id) * stored_d;
  }
}

}  // namespace

std::vector<std::vector<double>> reference_logits(const gguf::File& f, const std::vector<int>& tokens,
                                                  int64_t n_ctx, TensorType kv_type) {
  const std::string arch = f.get_string("general.architecture").value();
  const int64_t E = f.get_int(arch + ".embedding_length").value();
  const int64_t L = f.get_int(arch + ".block_count").value();
  const int64_t H = f.get_int(arch + ".attention.head_count").value();
  const int64_t KV = key_int(f, arch + ".attention.head_count_kv", H);
  const int64_t hd = key_int(f, arch + ".attention.key_length", E / H);
  const int64_t n_rot = key_int(f, arch + ".rope.dimension_count", hd);
  // command-r (from llama.cpp's graph): LayerNorms, attention and FFN side by side on the same
  // attn_norm output, logits multiplied by logit_scale.
  // cohere2: the same, with a window in layers l % P != P - 1 (P = 4 by default), which alone
  // rotate (with the global RoPE); the others use no RoPE.
  const bool cohere2 = arch == "cohere2";
  const bool command_r = arch == "command-r" || cohere2;
  const double eps = command_r ? key_float(f, arch + ".attention.layer_norm_epsilon", 0.0)
                               : key_float(f, arch + ".attention.layer_norm_rms_epsilon", 1e-5);
  auto norm = [&](const Vec& v, const Mat& w) { return command_r ? layernorm(v, w, eps) : rmsnorm(v, w, eps); };
  const double base = key_float(f, arch + ".rope.freq_base", 10000.0);
  const double factor = key_float(f, arch + ".rope.scaling.factor", 1.0);
  // llama.cpp runs phi3 without its sliding window, and so does the engine.
  const int64_t window = arch == "phi3" ? 0 : key_int(f, arch + ".attention.sliding_window", 0);
  // The gemma family (from llama.cpp's graphs): embeddings times sqrt(n_embd) and a GELU-tanh gate;
  // gemma2 and gemma3 add norms of the attention and FFN outputs (applied where the file has them)
  // and a sliding window in layers l % P != P - 1.  gemma2: window 4096 and P = 2 unless the file
  // says otherwise, the global layers' RoPE, attention scores soft-capped at 50 and logits at 30
  // by default.  gemma3: window only when the file has one, P = 6, RoPE base 10000 unscaled in the
  // window layers, logits soft-capped only when the file says so.
  const bool gemma = arch.rfind("gemma", 0) == 0, gemma2 = arch == "gemma2", gemma3 = arch == "gemma3";
  const bool olmo2 = arch == "olmo2";
  // gpt-oss (from llama.cpp's openai-moe graph): NeoX RoPE, a window in the even layers, a sink
  // logit per head in every softmax, its FFN norm named post_attention_norm, and experts with
  // biases, chosen by router logit and weighted by a softmax over the chosen logits, with a
  // clamped SwiGLU.
  const bool gpt_oss = arch == "gpt-oss";
  const bool neox = arch == "qwen2" || arch == "qwen2moe" || arch == "qwen3" || arch == "qwen3moe" || arch == "phi3" ||
                    gemma || olmo2 || gpt_oss;
  const int64_t window_len = gemma2 ? key_int(f, arch + ".attention.sliding_window", 4096) : window;
  const int64_t swa_period =
      gemma2 || gemma3 || olmo2 || cohere2 || gpt_oss
          ? key_int(f, arch + ".attention.sliding_window_pattern", gemma2 || gpt_oss ? 2 : gemma3 ? 6 : 4)
          : 0;
  // olmo2 (OLMo 3): window layers rotate with rope.freq_base_swa, else the global base, unscaled.
  const bool local_rope = gemma3 || olmo2 || f.find(arch + ".rope.freq_base_swa") != nullptr;
  const double base_swa = key_float(f, arch + ".rope.freq_base_swa", olmo2 ? base : 10000.0);
  const double attn_cap = gemma2 ? key_float(f, arch + ".attn_logit_softcapping", 50.0) : 0.0;
  const double softcap = key_float(f, arch + ".final_logit_softcapping", gemma2 ? 30.0 : 0.0);
  // granite: scalars on the embeddings, q.k, each branch and the logits; no RoPE when
  // rope.scaling.finetuned is false.
  const bool granite = arch == "granite" || arch == "granitemoe";
  const double embd_mult = granite ? key_float(f, arch + ".embedding_scale", 1.0) : 1.0;
  const double branch_mult = granite ? key_float(f, arch + ".residual_scale", 1.0) : 1.0;
  const double logit_div = granite ? key_float(f, arch + ".logit_scale", 1.0) : 1.0;
  const double kq_scale = granite ? key_float(f, arch + ".attention.scale", 0.0) : 0.0;
  const bool rope_off = granite && f.find(arch + ".rope.scaling.finetuned") &&
                        !f.get_bool(arch + ".rope.scaling.finetuned").value();
  auto layer_swa = [&](int64_t l) {
    return window_len > 0 && (swa_period == 0 || l % swa_period < swa_period - 1);
  };

  const Mat embd = load(f, "token_embd.weight");
  const Mat out_norm = load(f, "output_norm.weight");
  const Mat out = f.find_tensor("output.weight") ? load(f, "output.weight") : embd;
  Mat freqs;
  if (f.find_tensor("rope_freqs.weight")) freqs = load(f, "rope_freqs.weight");
  // LongRoPE (as llama.cpp): long factors when the context exceeds the original one, else short;
  // cos and sin scaled by rope.scaling.attn_factor.
  const double mscale = key_float(f, arch + ".rope.scaling.attn_factor", 1.0);
  if (f.find_tensor("rope_factors_long.weight")) {
    const int64_t orig = key_int(f, arch + ".rope.scaling.original_context_length",
                                 f.get_int(arch + ".context_length").value());
    freqs = load(f, n_ctx > orig ? "rope_factors_long.weight" : "rope_factors_short.weight");
  }

  const size_t T = tokens.size();
  std::vector<Vec> x(T);
  for (size_t t = 0; t < T; ++t) x[t] = Vec(embd.row(tokens[t]), embd.row(tokens[t]) + E);
  if (embd_mult != 1.0)
    for (auto& row : x)
      for (double& v : row) v *= embd_mult;
  if (gemma)
    for (auto& row : x)
      for (double& v : row) v *= std::sqrt(static_cast<double>(E));

  // YaRN, as in the paper and ggml: pair i keeps its original angle when it turns more than
  // beta_fast (32) times over the original context, takes the interpolated (scaled) angle when it
  // turns fewer than beta_slow (1) times, and a linear mix between; cos and sin are multiplied by
  // 1 + 0.1 ln(factor), divided by 1 + 0.1 m ln(factor) for a log multiplier m (mistral3 reads
  // the betas and m from the file).
  const bool yarn = f.find(arch + ".rope.scaling.type") && f.get_string(arch + ".rope.scaling.type").value() == "yarn";
  const double n_orig = static_cast<double>(key_int(f, arch + ".rope.scaling.original_context_length",
                                                    f.get_int(arch + ".context_length").value()));
  const bool mistral3 = arch == "mistral3";
  const double beta_fast = mistral3 ? key_float(f, arch + ".rope.scaling.yarn_beta_fast", 32.0) : 32.0;
  const double beta_slow = mistral3 ? key_float(f, arch + ".rope.scaling.yarn_beta_slow", 1.0) : 1.0;
  const double log_mul = mistral3 ? key_float(f, arch + ".rope.scaling.yarn_log_multiplier", 0.0) : 0.0;
  // mistral3's temperature tuning: q at position p times 1 + s ln(floor(p / n_orig) + 1).
  const double temp_scale = mistral3 ? key_float(f, arch + ".attention.temperature_scale", 0.0) : 0.0;
  auto rope = [&](Vec& v, int64_t n_heads, int64_t pos, double base, double factor) {
    // The pair whose wavelength 2 pi / freq makes `turns` turns over n_orig positions.
    auto pair_of = [&](double turns) { return n_rot * std::log(n_orig / (turns * 2 * M_PI)) / (2 * std::log(base)); };
    const double lo = std::max(0.0, std::floor(pair_of(beta_fast)));
    const double hi = std::min<double>(n_rot - 1, std::ceil(pair_of(beta_slow)));
    const double yarn_m =
        yarn && factor > 1 ? (1 + 0.1 * std::log(factor)) / (1 + 0.1 * log_mul * std::log(factor)) : 1.0;
    for (int64_t h = 0; h < n_heads; ++h) {
      double* p = v.data() + h * hd;
      for (int64_t i = 0; i < n_rot / 2; ++i) {
        double theta = static_cast<double>(pos) / factor * std::pow(base, -2.0 * static_cast<double>(i) / n_rot);
        if (!freqs.a.empty()) theta /= freqs.a[i];
        if (yarn) {
          const double keep = 1 - std::min(1.0, std::max(0.0, (static_cast<double>(i) - lo) / std::max(0.001, hi - lo)));
          theta = theta * (1 - keep) + theta * factor * keep;
        }
        const int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + n_rot / 2 : 2 * i + 1;
        const double a = p[i0], b = p[i1];
        p[i0] = mscale * yarn_m * (a * std::cos(theta) - b * std::sin(theta));
        p[i1] = mscale * yarn_m * (a * std::sin(theta) + b * std::cos(theta));
      }
    }
  };

  for (int64_t l = 0; l < L; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const Mat wo = load(f, p + "attn_output.weight");
    // olmo2 has no norm before its branches: they read x as it is.
    Mat an, fn;
    if (f.find_tensor(p + "attn_norm.weight")) an = load(f, p + "attn_norm.weight");
    if (f.find_tensor(p + "ffn_norm.weight")) fn = load(f, p + "ffn_norm.weight");
    if (gpt_oss) fn = load(f, p + "post_attention_norm.weight");
    auto pre_norm = [&](const Vec& v, const Mat& w) { return w.a.empty() ? v : norm(v, w); };
    // Mixture of experts: the router and the stacked experts (3-D tensors, one matrix per expert).
    const bool moe = f.find_tensor(p + "ffn_gate_inp.weight") != nullptr;
    Mat wu, wd, router;
    std::vector<Mat> eg, eu, ed;
    if (moe) {
      router = load(f, p + "ffn_gate_inp.weight");
      eg = load_stack(f, p + "ffn_gate_exps.weight");
      eu = load_stack(f, p + "ffn_up_exps.weight");
      ed = load_stack(f, p + "ffn_down_exps.weight");
    } else {
      wu = load(f, p + "ffn_up.weight");
      wd = load(f, p + "ffn_down.weight");
    }
    // phi3 fuses q, k, v into attn_qkv and the gate into ffn_up (its first half).
    const bool fused_qkv = f.find_tensor(p + "attn_qkv.weight") != nullptr;
    const bool fused_up = !moe && f.find_tensor(p + "ffn_gate.weight") == nullptr;
    Mat wq, wk, wv, wqkv, wg;
    if (fused_qkv) {
      wqkv = load(f, p + "attn_qkv.weight");
    } else {
      wq = load(f, p + "attn_q.weight");
      wk = load(f, p + "attn_k.weight");
      wv = load(f, p + "attn_v.weight");
    }
    if (!moe && !fused_up) wg = load(f, p + "ffn_gate.weight");
    // Optional per-layer tensors, loaded once per layer (empty when absent).
    auto optional = [&](const char* name) { return f.find_tensor(p + name) ? load(f, p + name) : Mat{}; };
    const Mat attn_post = gpt_oss ? Mat{} : optional("post_attention_norm.weight"),
              ffn_post = optional("post_ffw_norm.weight");
    const Mat sinks = optional("attn_sinks.weight"), router_b = optional("ffn_gate_inp.bias"),
              eg_b = optional("ffn_gate_exps.bias"), eu_b = optional("ffn_up_exps.bias"),
              ed_b = optional("ffn_down_exps.bias");
    auto row_of = [](const Mat& m, int64_t r) {  // one expert's bias, or nothing
      Mat b;
      if (!m.a.empty()) b.a.assign(m.row(r), m.row(r) + m.cols);
      return b;
    };
    const Mat sh_gate_inp = optional("ffn_gate_inp_shexp.weight"), sh_gate = optional("ffn_gate_shexp.weight"),
              sh_up = optional("ffn_up_shexp.weight"), sh_down = optional("ffn_down_shexp.weight");
    Mat qn, kn;
    if (f.find_tensor(p + "attn_q_norm.weight")) {
      qn = load(f, p + "attn_q_norm.weight");
      kn = load(f, p + "attn_k_norm.weight");
    }
    // Biases, each where the file has it (llama.cpp applies them for every architecture).
    const Mat bq = optional("attn_q.bias"), bk = optional("attn_k.bias"), bv = optional("attn_v.bias"),
              bo = optional("attn_output.bias"), b_gate = optional("ffn_gate.bias"), b_up = optional("ffn_up.bias"),
              b_down = optional("ffn_down.bias");
    auto add_bias = [](Vec& v, const Mat& b) {
      for (size_t i = 0; i < b.a.size(); ++i) v[i] += b.a[i];
    };
    std::vector<Vec> Q(T), K(T), V(T), H_attn(T);
    for (size_t t = 0; t < T; ++t) {
      const Vec h = pre_norm(x[t], an);
      H_attn[t] = h;
      if (fused_qkv) {
        const Vec all = matvec(wqkv, h);
        Q[t] = Vec(all.begin(), all.begin() + H * hd);
        K[t] = Vec(all.begin() + H * hd, all.begin() + (H + KV) * hd);
        V[t] = Vec(all.begin() + (H + KV) * hd, all.end());
      } else {
        Q[t] = matvec(wq, h);
        K[t] = matvec(wk, h);
        V[t] = matvec(wv, h);
      }
      add_bias(Q[t], bq);
      add_bias(K[t], bk);
      add_bias(V[t], bv);
      if (command_r && !qn.a.empty()) {  // Command R+: each head LayerNorm-ed with its own weights
        auto heads = [&](Vec& v, int64_t n_heads, const Mat& w) {
          for (int64_t h = 0; h < n_heads; ++h) {
            const Vec head(v.begin() + h * hd, v.begin() + (h + 1) * hd);
            Mat wh;
            wh.a.assign(w.a.begin() + h * hd, w.a.begin() + (h + 1) * hd);
            const Vec out = layernorm(head, wh, eps);
            std::copy(out.begin(), out.end(), v.begin() + h * hd);
          }
        };
        heads(Q[t], H, qn);
        heads(K[t], KV, kn);
      } else if (static_cast<int64_t>(qn.a.size()) == H * hd && H > 1) {  // olmo2: the whole q and k
        Q[t] = rmsnorm(Q[t], qn, eps);
        K[t] = rmsnorm(K[t], kn, eps);
      } else if (!qn.a.empty()) {  // qwen3, gemma3: each head's q and k RMS-normalised before RoPE
        auto head_norm = [&](Vec& v, int64_t n_heads, const Mat& w) {
          for (int64_t h = 0; h < n_heads; ++h) {
            double ss = 0;
            for (int64_t i = 0; i < hd; ++i) ss += v[h * hd + i] * v[h * hd + i];
            const double inv = 1.0 / std::sqrt(ss / static_cast<double>(hd) + eps);
            for (int64_t i = 0; i < hd; ++i) v[h * hd + i] = v[h * hd + i] * inv * w.a[i];
          }
        };
        head_norm(Q[t], H, qn);
        head_norm(K[t], KV, kn);
      }
      // smollm3 leaves every fourth layer without positions (NoPE).
      const bool nope = (arch == "smollm3" && (l + 1) % 4 == 0) || (cohere2 && !layer_swa(l)) || rope_off;
      const bool local = local_rope && layer_swa(l);
      const double local_factor = gemma3 || olmo2 ? 1.0 : factor;
      if (!nope) {
        rope(Q[t], H, static_cast<int64_t>(t), local ? base_swa : base, local ? local_factor : factor);
        rope(K[t], KV, static_cast<int64_t>(t), local ? base_swa : base, local ? local_factor : factor);
      }
      if (temp_scale != 0)
        for (double& q : Q[t]) q *= 1 + temp_scale * std::log(std::floor(static_cast<double>(t) / n_orig) + 1);
      if (kv_type == TensorType::kF16) {
        for (double& k : K[t]) k = fp16_to_fp32(fp32_to_fp16(static_cast<float>(k)));
        for (double& v : V[t]) v = fp16_to_fp32(fp32_to_fp16(static_cast<float>(v)));
      } else if (kv_type == TensorType::kQ8_0) {
        for (int64_t h = 0; h < KV; ++h) {
          round_q8_0(K[t].data() + h * hd, hd);
          round_q8_0(V[t].data() + h * hd, hd);
        }
      }
    }
    for (size_t t = 0; t < T; ++t) {
      Vec o(static_cast<size_t>(H * hd), 0.0);
      for (int64_t h = 0; h < H; ++h) {
        const int64_t kvh = h / (H / KV);
        const size_t start = layer_swa(l) && t + 1 > static_cast<size_t>(window_len) ? t + 1 - window_len : 0;
        std::vector<double> s;
        for (size_t u = start; u <= t; ++u) {
          double d = 0;
          for (int64_t i = 0; i < hd; ++i) d += Q[t][h * hd + i] * K[u][kvh * hd + i];
          d = kq_scale > 0 ? d * kq_scale : d / std::sqrt(static_cast<double>(hd));
          s.push_back(attn_cap > 0 ? attn_cap * std::tanh(d / attn_cap) : d);
        }
        double mx = -1e300, sum = 0;
        for (double v : s) mx = std::max(mx, v);
        if (!sinks.a.empty()) mx = std::max(mx, sinks.a[h]);
        for (double& v : s) sum += (v = std::exp(v - mx));
        if (!sinks.a.empty()) sum += std::exp(sinks.a[h] - mx);
        for (size_t u = start; u <= t; ++u)
          for (int64_t i = 0; i < hd; ++i) o[h * hd + i] += s[u - start] / sum * V[u][kvh * hd + i];
      }
      Vec a = matvec(wo, o);
      add_bias(a, bo);
      if (!attn_post.a.empty()) a = rmsnorm(a, attn_post, eps);
      for (int64_t i = 0; i < E; ++i) x[t][i] += branch_mult * a[i];
      const Vec h2 = command_r ? H_attn[t] : pre_norm(x[t], fn);
      // The layer's FFN biases belong to its dense FFN (bg, bu, bd empty for the experts).
      auto ffn = [&](const Mat& mg, const Mat& mu, const Mat& md, bool fused, const Mat& bg = Mat{},
                     const Mat& bu = Mat{}, const Mat& bd = Mat{}) {
        Vec g, u = matvec(mu, h2);
        if (fused) {
          g = Vec(u.begin(), u.begin() + u.size() / 2);
          u.erase(u.begin(), u.begin() + u.size() / 2);
        } else {
          g = matvec(mg, h2);
        }
        add_bias(g, bg);
        add_bias(u, bu);
        for (size_t i = 0; i < g.size(); ++i) {
          const double z = g[i];
          if (gpt_oss) {
            const double zc = std::min(z, 7.0), uc = std::min(7.0, std::max(-7.0, u[i]));
            g[i] = zc / (1.0 + std::exp(-1.702 * zc)) * (uc + 1.0);
            continue;
          }
          g[i] = gemma ? 0.5 * z * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (z + 0.044715 * z * z * z))) * u[i]
                        : z / (1.0 + std::exp(-z)) * u[i];
        }
        Vec out = matvec(md, g);
        add_bias(out, bd);
        return out;
      };
      Vec d;
      if (moe) {
        // softmax over the router's logits, the k largest, weights renormalised over them.
        const int64_t k = f.get_int(arch + ".expert_used_count").value();
        Vec pr = matvec(router, h2);
        add_bias(pr, router_b);
        // gpt-oss's softmax over the chosen logits is the renormalised softmax over all of them.
        const double mx = *std::max_element(pr.begin(), pr.end());
        double z = 0;
        for (double& v : pr) z += (v = std::exp(v - mx));
        for (double& v : pr) v /= z;
        std::vector<size_t> order(pr.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return pr[a] > pr[b]; });
        // qwen2moe uses the chosen probabilities as they are; the others renormalise them.
        double chosen = 0;
        for (int64_t j = 0; j < k; ++j) chosen += pr[order[j]];
        if (arch == "qwen2moe") chosen = 1;
        d.assign(static_cast<size_t>(E), 0.0);
        for (int64_t j = 0; j < k; ++j) {
          const size_t ex = order[j];
          const auto e = static_cast<int64_t>(ex);
          const Vec o = ffn(eg[ex], eu[ex], ed[ex], false, row_of(eg_b, e), row_of(eu_b, e), row_of(ed_b, e));
          for (int64_t i = 0; i < E; ++i) d[i] += pr[ex] / chosen * o[i];
        }
        if (!sh_up.a.empty()) {  // a shared expert: qwen2moe's gated by a sigmoid, granitemoe's not
          double gate = 1;
          if (!sh_gate_inp.a.empty()) {
            double z = 0;
            for (int64_t i = 0; i < E; ++i) z += sh_gate_inp.a[i] * h2[i];
            gate = 1 / (1 + std::exp(-z));
          }
          const Vec o = ffn(sh_gate, sh_up, sh_down, false);
          for (int64_t i = 0; i < E; ++i) d[i] += gate * o[i];
        }
      } else {
        d = ffn(wg, wu, wd, fused_up, b_gate, b_up, b_down);
      }
      if (!ffn_post.a.empty()) d = rmsnorm(d, ffn_post, eps);
      for (int64_t i = 0; i < E; ++i) x[t][i] += branch_mult * d[i];
    }
  }
  std::vector<Vec> logits(T);
  for (size_t t = 0; t < T; ++t) {
    logits[t] = matvec(out, norm(x[t], out_norm));
    for (double& v : logits[t]) v /= logit_div;
    if (command_r)
      for (double& v : logits[t]) v *= key_float(f, arch + ".logit_scale", 1.0);
    if (softcap > 0)
      for (double& v : logits[t]) v = softcap * std::tanh(v / softcap);
  }
  return logits;
}

}  // namespace plumb::test
