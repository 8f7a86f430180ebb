// Synthetic llama-family models (see synth.h).
#include "gguf/synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string>

#include "gguf/format.h"
#include "gguf/quantize.h"
#include "gguf/serialize.h"

namespace plumb::gguf {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman & Vigna): fast, and good enough for weights.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Approximately N(0, 1): the sum of four 16-bit uniforms (Irwin-Hall), rescaled.  One
  // draw per sample keeps the 1b preset's 1.5 G weights fast to generate.
  float normal() {
    const uint64_t r = next();
    const float sum = static_cast<float>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
    constexpr float kMean = 4 * 65535.0f / 2;
    constexpr float kScale = 1.7320508f / 65535.0f;  // sqrt(3) / 65535: unit variance
    return (sum - kMean) * kScale;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

enum class Init { kWeight, kNorm, kBias, kSink, kLongFactor, kShortFactor };

struct Planned {
  TensorInfo info;
  Init init;
};

uint64_t name_hash(std::string_view s) {  // FNV-1a: ties each tensor's stream to its name
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

int64_t head_dim_of(const SynthSpec& s) { return s.head_dim > 0 ? s.head_dim : s.n_embd / s.n_head; }

Status check_spec(const SynthSpec& s) {
  auto bad = [](const std::string& m) { return Status::InvalidArgument("synth: " + m); };
  static const std::set<std::string> kArchs = {"llama", "qwen2", "qwen2moe", "qwen3", "qwen3moe", "phi3",
                                               "gemma", "gemma2", "gemma3", "smollm3", "olmo2", "granite",
                                               "granitemoe", "command-r", "cohere2", "ernie4_5", "mistral3",
                                               "gpt-oss"};
  if (!kArchs.count(s.arch))
    return bad("unknown architecture '" + s.arch +
               "', expected llama, qwen2, qwen2moe, qwen3, qwen3moe, phi3, gemma, gemma2, gemma3, smollm3, olmo2, "
               "granite, granitemoe, command-r, cohere2, ernie4_5, mistral3 or gpt-oss");
  if (s.n_expert < 0 || s.n_expert_used < 0 || s.n_ff_exp < 0 || s.n_expert_used > s.n_expert ||
      (s.n_expert > 0) != (s.n_expert_used > 0) ||
      ((s.arch == "qwen3moe" || s.arch == "qwen2moe" || s.arch == "granitemoe" || s.arch == "gpt-oss") &&
       s.n_expert == 0) ||
      (s.n_expert > 0 && s.arch != "llama" && s.arch != "qwen3moe" && s.arch != "qwen2moe" && s.arch != "granitemoe" &&
       s.arch != "gpt-oss"))
    return bad("experts: n_expert_used must be in [1, n_expert], both set for qwen2moe, qwen3moe, granitemoe and gpt-oss "
               "(and optionally llama, Mixtral-style) and for no other architecture");
  if (s.arch == "granitemoe" && s.n_ff_exp > 0)
    return bad("granitemoe's experts are n_ff wide (llama.cpp reads no expert_feed_forward_length for it)");
  if (s.n_ff_shexp < 0 || (s.n_ff_shexp > 0 && s.arch != "granitemoe"))
    return bad("a shared expert width is for granitemoe only (qwen2moe always has its gated one, n_ff wide)");
  if (s.sliding_window < 0) return bad("sliding_window must be >= 0");
  if (s.long_rope && s.n_ctx < 64) return bad("long_rope needs n_ctx >= 64 (the original context is n_ctx / 32)");
  if (s.yarn_factor != 0 && !(s.yarn_factor >= 1)) return bad("yarn_factor must be >= 1");
  if (s.n_embd <= 0 || s.n_layer <= 0 || s.n_head <= 0 || s.n_head_kv <= 0 || s.n_ff <= 0 || s.n_ctx <= 0)
    return bad("n_embd, n_layer, n_head, n_head_kv, n_ff and n_ctx must be positive");
  if (s.head_dim < 0 || s.head_dim % 2 != 0) return bad("head_dim " + std::to_string(s.head_dim) + " must be even");
  if (s.head_dim == 0 && s.n_embd % s.n_head != 0)
    return bad("n_embd " + std::to_string(s.n_embd) + " is not a multiple of n_head " + std::to_string(s.n_head));
  if (s.n_head % s.n_head_kv != 0)
    return bad("n_head " + std::to_string(s.n_head) + " is not a multiple of n_head_kv " + std::to_string(s.n_head_kv));
  if (!can_convert(s.type))
    return bad("cannot write weights of type " + std::string(tensor_type_name(s.type)) +
               " (expected f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K or q6_K)");
  if (s.mxfp4_moe && (s.type != TensorType::kQ8_0 || s.n_expert == 0))
    return bad("the mxfp4_moe mix stores experts as MXFP4 and the rest as q8_0: it needs type q8_0 and experts");
  if (s.k_mix && s.type != TensorType::kQ4_K && s.type != TensorType::kQ5_K)
    return bad("a K-quant mix needs type q4_K or q5_K, not " + std::string(tensor_type_name(s.type)));
  const uint32_t block = tensor_type_traits(s.type)->block_size;
  // A mix stores rows that its K-quants cannot hold in a fallback type instead (mix_type).
  const int64_t q_dim = static_cast<int64_t>(s.n_head) * head_dim_of(s);
  if (!s.k_mix && (s.n_embd % block != 0 || s.n_ff % block != 0 || q_dim % block != 0 || s.n_ff_exp % block != 0))
    return bad("n_embd " + std::to_string(s.n_embd) +
               (q_dim == s.n_embd ? "" : ", n_head * head_dim " + std::to_string(q_dim)) + " and n_ff " +
               std::to_string(s.n_ff) + " must be multiples of " +
               std::string(tensor_type_name(s.type)) + "'s block size " + std::to_string(block));
  if (s.vocab_path.empty() && s.n_vocab < 260) return bad("n_vocab must be at least 260 for the generated vocabulary");
  return Status::Ok();
}

// llama.cpp's use_more_bits: which layers a Q4_K_M / Q5_K_M file gives q6_K attn_v and ffn_down.
bool more_bits_layer(int layer, int n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

// The type a Q4_K_M / Q5_K_M file gives a weight whose rows have ne0 elements, as llama.cpp's
// llama_tensor_get_type decides it: rows that are not a multiple of 256 cannot be K-quants, so
// q4_K becomes q5_0, q5_K becomes q5_1 and q6_K (and the output tensor) q8_0.  Rows that are not
// even a multiple of 32 become f16 (llama.cpp does so for q5_0 / q5_1 and refuses a q8_0 one).
TensorType mix_type(TensorType k_type, int64_t ne0) {
  if (ne0 % 256 == 0) return k_type;
  TensorType t = TensorType::kQ8_0;
  if (k_type == TensorType::kQ4_K) t = TensorType::kQ5_0;
  if (k_type == TensorType::kQ5_K) t = TensorType::kQ5_1;
  return ne0 % 32 == 0 ? t : TensorType::kF16;
}

std::vector<Planned> plan_tensors(const SynthSpec& s, int64_t n_vocab) {
  const int64_t head_dim = head_dim_of(s);
  const int64_t q_dim = head_dim * s.n_head, n_embd_kv = head_dim * s.n_head_kv;
  const bool gpt_oss = s.arch == "gpt-oss";
  const bool bias = s.qkv_bias || s.arch == "qwen2" || s.arch == "qwen2moe" || gpt_oss;
  std::vector<Planned> out;
  // more_bits: a tensor the K-quant mix stores as q6_K.  step_up: one the mix stores one K-quant
  // wider (llama.cpp's rule for a fused attn_qkv: q5_K in Q4_K_M, q6_K in Q5_K_M).
  auto add = [&](std::string name, std::vector<int64_t> shape, Init init, bool more_bits = false,
                 bool step_up = false) {
    TensorInfo t;
    t.name = std::move(name);
    t.shape = std::move(shape);
    t.type = init == Init::kWeight ? s.type : TensorType::kF32;  // norms and biases stay F32, as in real files
    TensorType k = more_bits ? TensorType::kQ6_K : s.type;
    if (step_up) k = s.type == TensorType::kQ4_K ? TensorType::kQ5_K : TensorType::kQ6_K;
    if (init == Init::kWeight && s.k_mix) t.type = mix_type(k, t.shape[0]);
    if (init == Init::kWeight && s.mxfp4_moe && t.shape.size() == 3) t.type = TensorType::kMXFP4;
    out.push_back({std::move(t), init});
  };
  const bool fused = s.arch == "phi3";  // one attn_qkv; ffn_up holds the gate rows then the up rows
  const bool cohere = s.arch == "command-r" || s.arch == "cohere2";
  const bool tied = s.tied_output || cohere;  // command-r and cohere2 always reuse token_embd
  add("token_embd.weight", {s.n_embd, n_vocab}, Init::kWeight, /*more_bits=*/tied);
  for (int l = 0; l < s.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const bool more_bits = more_bits_layer(l, s.n_layer);
    const bool olmo2 = s.arch == "olmo2";  // no pre-norms; q/k norms over the whole width
    if (!olmo2) add(p + "attn_norm.weight", {s.n_embd}, Init::kNorm);
    if (fused) {
      add(p + "attn_qkv.weight", {s.n_embd, q_dim + 2 * n_embd_kv}, Init::kWeight, false, /*step_up=*/true);
    } else {
      add(p + "attn_q.weight", {s.n_embd, q_dim}, Init::kWeight);
      add(p + "attn_k.weight", {s.n_embd, n_embd_kv}, Init::kWeight);
      add(p + "attn_v.weight", {s.n_embd, n_embd_kv}, Init::kWeight, more_bits);
    }
    if (bias) {
      add(p + "attn_q.bias", {q_dim}, Init::kBias);
      add(p + "attn_k.bias", {n_embd_kv}, Init::kBias);
      add(p + "attn_v.bias", {n_embd_kv}, Init::kBias);
    }
    if (s.arch == "qwen3" || s.arch == "qwen3moe" || s.arch == "gemma3") {
      add(p + "attn_q_norm.weight", {head_dim}, Init::kNorm);
      add(p + "attn_k_norm.weight", {head_dim}, Init::kNorm);
    }
    if (s.arch == "command-r" && s.n_layer >= 64) {  // Command R+: a weight vector per head
      add(p + "attn_q_norm.weight", {head_dim, s.n_head}, Init::kNorm);
      add(p + "attn_k_norm.weight", {head_dim, s.n_head_kv}, Init::kNorm);
    }
    add(p + "attn_output.weight", {q_dim, s.n_embd}, Init::kWeight);
    if (gpt_oss) {
      add(p + "attn_output.bias", {s.n_embd}, Init::kBias);
      add(p + "attn_sinks.weight", {s.n_head}, Init::kSink);
      add(p + "post_attention_norm.weight", {s.n_embd}, Init::kNorm);  // the FFN's input norm
    }
    if (olmo2) {
      add(p + "attn_q_norm.weight", {q_dim}, Init::kNorm);
      add(p + "attn_k_norm.weight", {n_embd_kv}, Init::kNorm);
    }
    if (s.arch == "gemma2" || s.arch == "gemma3" || olmo2) {
      add(p + "post_attention_norm.weight", {s.n_embd}, Init::kNorm);
      add(p + "post_ffw_norm.weight", {s.n_embd}, Init::kNorm);
    }
    if (!olmo2 && !gpt_oss && s.arch != "command-r" && s.arch != "cohere2")
      add(p + "ffn_norm.weight", {s.n_embd}, Init::kNorm);
    if (s.n_expert > 0) {
      const int64_t X = s.n_expert, FE = s.n_ff_exp > 0 ? s.n_ff_exp : s.n_ff;
      add(p + "ffn_gate_inp.weight", {s.n_embd, X}, Init::kWeight);
      out.back().info.type = TensorType::kF32;  // llama.cpp never quantizes the router
      add(p + "ffn_gate_exps.weight", {s.n_embd, FE, X}, Init::kWeight);
      add(p + "ffn_up_exps.weight", {s.n_embd, FE, X}, Init::kWeight);
      add(p + "ffn_down_exps.weight", {FE, s.n_embd, X}, Init::kWeight, more_bits);
      if (gpt_oss) {
        add(p + "ffn_gate_inp.bias", {X}, Init::kBias);
        add(p + "ffn_gate_exps.bias", {FE, X}, Init::kBias);
        add(p + "ffn_up_exps.bias", {FE, X}, Init::kBias);
        add(p + "ffn_down_exps.bias", {s.n_embd, X}, Init::kBias);
      }
      if (s.arch == "qwen2moe") {  // the shared expert, n_ff wide, and its sigmoid gate
        add(p + "ffn_gate_inp_shexp.weight", {s.n_embd}, Init::kWeight);
        out.back().info.type = TensorType::kF32;
        add(p + "ffn_gate_shexp.weight", {s.n_embd, s.n_ff}, Init::kWeight);
        add(p + "ffn_up_shexp.weight", {s.n_embd, s.n_ff}, Init::kWeight);
        add(p + "ffn_down_shexp.weight", {s.n_ff, s.n_embd}, Init::kWeight, more_bits);
      }
      if (s.n_ff_shexp > 0) {  // granitemoe's, ungated
        add(p + "ffn_gate_shexp.weight", {s.n_embd, s.n_ff_shexp}, Init::kWeight);
        add(p + "ffn_up_shexp.weight", {s.n_embd, s.n_ff_shexp}, Init::kWeight);
        add(p + "ffn_down_shexp.weight", {s.n_ff_shexp, s.n_embd}, Init::kWeight, more_bits);
      }
    } else {
      if (!fused) add(p + "ffn_gate.weight", {s.n_embd, s.n_ff}, Init::kWeight);
      add(p + "ffn_up.weight", {s.n_embd, fused ? 2 * s.n_ff : s.n_ff}, Init::kWeight);
      add(p + "ffn_down.weight", {s.n_ff, s.n_embd}, Init::kWeight, more_bits);
    }
  }
  add("output_norm.weight", {s.n_embd}, Init::kNorm);
  if (s.long_rope) {
    add("rope_factors_long.weight", {head_dim / 2}, Init::kLongFactor);
    add("rope_factors_short.weight", {head_dim / 2}, Init::kShortFactor);
  }
  if (!tied) add("output.weight", {s.n_embd, n_vocab}, Init::kWeight, /*more_bits=*/true);
  return out;
}

// The tokenizer.* keys: copied from spec.vocab_path, or generated.
Status tokenizer_metadata(const SynthSpec& s, std::vector<KeyValue>& kv, int64_t* n_vocab) {
  if (!s.vocab_path.empty()) {
    PLUMB_ASSIGN_OR_RETURN(auto vocab, File::open(s.vocab_path));
    const Value* tokens = vocab->find("tokenizer.ggml.tokens");
    if (tokens == nullptr || tokens->type != ValueType::kArray || tokens->array.empty())
      return Status::InvalidArgument(s.vocab_path + ": no tokenizer.ggml.tokens array, so it cannot serve as --vocab");
    *n_vocab = static_cast<int64_t>(tokens->array.size());
    for (const auto& e : vocab->metadata())
      if (e.key.rfind("tokenizer.", 0) == 0) kv.push_back(e);
    return Status::Ok();
  }
  SynthVocab v = synth_vocab(s.n_vocab);
  *n_vocab = static_cast<int64_t>(v.tokens.size());
  kv.push_back({"tokenizer.ggml.model", Value::string("llama")});
  kv.push_back({"tokenizer.ggml.pre", Value::string("default")});
  kv.push_back({"tokenizer.ggml.tokens", Value::string_array(v.tokens)});
  kv.push_back({"tokenizer.ggml.scores", Value::f32_array(v.scores)});
  kv.push_back({"tokenizer.ggml.token_type", Value::i32_array(v.token_types)});
  kv.push_back({"tokenizer.ggml.bos_token_id", Value::u32(1)});
  kv.push_back({"tokenizer.ggml.eos_token_id", Value::u32(2)});
  kv.push_back({"tokenizer.ggml.unknown_token_id", Value::u32(0)});
  kv.push_back({"tokenizer.ggml.add_bos_token", Value::boolean(true)});
  kv.push_back({"tokenizer.ggml.add_eos_token", Value::boolean(false)});
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& synth_preset_names() {
  static const std::vector<std::string> kNames = {"tiny", "small", "1b"};
  return kNames;
}

Result<SynthSpec> synth_preset(std::string_view name) {
  SynthSpec s;
  s.name = "plumb-synth-" + std::string(name);
  if (name == "tiny") {
    s.n_vocab = 320, s.n_embd = 64, s.n_layer = 2, s.n_head = 4, s.n_head_kv = 2, s.n_ff = 128, s.n_ctx = 512;
  } else if (name == "small") {
    s.n_vocab = 2048, s.n_embd = 256, s.n_layer = 4, s.n_head = 8, s.n_head_kv = 4, s.n_ff = 768, s.n_ctx = 2048;
  } else if (name == "1b") {
    s.n_vocab = 128256, s.n_embd = 2048, s.n_layer = 16, s.n_head = 32, s.n_head_kv = 8, s.n_ff = 8192;
    s.n_ctx = 131072, s.rope_freq_base = 500000.0f;
  } else {
    return Status::InvalidArgument("unknown preset '" + std::string(name) + "', expected tiny, small or 1b");
  }
  return s;
}

Result<uint32_t> file_type_of(TensorType type) {
  // llama.cpp's llama_ftype values; a K-quant type maps to the "mostly" file type named after it
  // (Q4_K_S, Q5_K_S, Q6_K), the K-quant mixes to Q4_K_M / Q5_K_M in synth_write.
  switch (type) {
    case TensorType::kF32: return 0u;
    case TensorType::kF16: return 1u;
    case TensorType::kQ4_0: return 2u;
    case TensorType::kQ4_1: return 3u;
    case TensorType::kQ5_0: return 8u;
    case TensorType::kQ5_1: return 9u;
    case TensorType::kQ8_0: return 7u;
    case TensorType::kQ4_K: return 14u;
    case TensorType::kQ5_K: return 16u;
    case TensorType::kQ6_K: return 18u;
    case TensorType::kBF16: return 32u;
    default: return Status::Unsupported("no llama file type for " + std::string(tensor_type_name(type)));
  }
}

const std::vector<std::string>& synth_type_names() {
  static const std::vector<std::string> kNames = {"f32",  "f16",  "bf16", "q8_0",   "q4_0",   "q4_1",     "q5_0",
                                                  "q5_1", "q4_K", "q5_K", "q6_K", "q4_K_M", "q5_K_M", "mxfp4_moe"};
  return kNames;
}

Status set_synth_type(SynthSpec& spec, std::string_view name) {
  if (name == "mxfp4_moe") {
    spec.type = TensorType::kQ8_0;
    spec.k_mix = false;
    spec.mxfp4_moe = true;
    return Status::Ok();
  }
  spec.mxfp4_moe = false;
  const bool mix = name == "q4_K_M" || name == "q5_K_M";
  const auto type = tensor_type_from_name(mix ? name.substr(0, 4) : name);
  if (!type || !can_convert(*type)) {
    std::string list;
    for (const auto& n : synth_type_names()) list += (list.empty() ? "" : ", ") + n;
    return Status::InvalidArgument("unknown weight type '" + std::string(name) + "', expected one of " + list);
  }
  spec.type = *type;
  spec.k_mix = mix;
  return Status::Ok();
}

Status synth_write(const SynthSpec& s, const std::string& path, const SynthProgress& progress) {
  PLUMB_RETURN_IF_ERROR(check_spec(s));
  std::vector<KeyValue> kv;
  const std::string& a = s.arch;
  kv.push_back({"general.architecture", Value::string(a)});
  kv.push_back({"general.name", Value::string(s.name)});
  kv.push_back({"general.alignment", Value::u32(static_cast<uint32_t>(kDefaultAlignment))});
  PLUMB_ASSIGN_OR_RETURN(uint32_t file_type, file_type_of(s.type));
  if (s.k_mix) file_type = s.type == TensorType::kQ4_K ? 15u : 17u;  // MOSTLY_Q4_K_M, MOSTLY_Q5_K_M
  if (s.mxfp4_moe) file_type = 38u;                                    // MOSTLY_MXFP4_MOE
  kv.push_back({"general.file_type", Value::u32(file_type)});
  if (tensor_type_traits(s.type)->block_size > 1) kv.push_back({"general.quantization_version", Value::u32(2)});
  std::vector<KeyValue> tok;
  int64_t n_vocab = 0;
  PLUMB_RETURN_IF_ERROR(tokenizer_metadata(s, tok, &n_vocab));
  auto u32 = [](int64_t v) { return Value::u32(static_cast<uint32_t>(v)); };
  kv.push_back({a + ".context_length", u32(s.n_ctx)});
  kv.push_back({a + ".embedding_length", u32(s.n_embd)});
  kv.push_back({a + ".block_count", u32(s.n_layer)});
  kv.push_back({a + ".feed_forward_length", u32(s.n_ff)});
  kv.push_back({a + ".attention.head_count", u32(s.n_head)});
  kv.push_back({a + ".attention.head_count_kv", u32(s.n_head_kv)});
  kv.push_back({a + ".rope.freq_base", Value::f32(s.rope_freq_base)});
  const bool cohere = a == "command-r" || a == "cohere2";
  kv.push_back({a + (cohere ? ".attention.layer_norm_epsilon" : ".attention.layer_norm_rms_epsilon"),
                Value::f32(s.rms_eps)});
  if (cohere) kv.push_back({a + ".logit_scale", Value::f32(0.0625f)});  // Command-R v01's
  kv.push_back({a + ".rope.dimension_count", u32(head_dim_of(s))});
  if (s.head_dim > 0) {
    kv.push_back({a + ".attention.key_length", u32(s.head_dim)});
    kv.push_back({a + ".attention.value_length", u32(s.head_dim)});
  }
  kv.push_back({a + ".vocab_size", u32(n_vocab)});
  if (s.sliding_window > 0)
    kv.push_back({a + ".attention.sliding_window", u32(s.sliding_window)});
  else if (a == "cohere2")  // required there; Command R7B's
    kv.push_back({a + ".attention.sliding_window", u32(4096)});
  else if (a == "gpt-oss")  // required there; gpt-oss-20b's
    kv.push_back({a + ".attention.sliding_window", u32(128)});
  if (s.arch == "granite" || s.arch == "granitemoe") {  // Granite 3.x 2B's multipliers
    kv.push_back({a + ".embedding_scale", Value::f32(12.0f)});
    kv.push_back({a + ".residual_scale", Value::f32(0.22f)});
    kv.push_back({a + ".logit_scale", Value::f32(8.0f)});
    kv.push_back({a + ".attention.scale", Value::f32(0.015625f)});
  }
  if (s.n_expert > 0) {
    kv.push_back({a + ".expert_count", u32(s.n_expert)});
    kv.push_back({a + ".expert_used_count", u32(s.n_expert_used)});
    if (s.n_ff_exp > 0 || a == "gpt-oss")  // required by gpt-oss
      kv.push_back({a + ".expert_feed_forward_length", u32(s.n_ff_exp > 0 ? s.n_ff_exp : s.n_ff)});
    if (s.n_ff_shexp > 0) kv.push_back({a + ".expert_shared_feed_forward_length", u32(s.n_ff_shexp)});
  }
  if (s.yarn_factor > 0) {
    kv.push_back({a + ".rope.scaling.type", Value::string("yarn")});
    kv.push_back({a + ".rope.scaling.factor", Value::f32(s.yarn_factor)});
    kv.push_back({a + ".rope.scaling.original_context_length",
                  u32(std::max<int64_t>(1, static_cast<int64_t>(s.n_ctx / s.yarn_factor)))});
    if (a == "mistral3") {  // Ministral 3's: beta_fast 32, beta_slow 1, mscale_all_dim 1
      kv.push_back({a + ".rope.scaling.yarn_beta_fast", Value::f32(32.0f)});
      kv.push_back({a + ".rope.scaling.yarn_beta_slow", Value::f32(1.0f)});
      kv.push_back({a + ".rope.scaling.yarn_log_multiplier", Value::f32(1.0f)});
    }
  }
  if (a == "mistral3")  // Ministral 3's llama_4_scaling_beta
    kv.push_back({a + ".attention.temperature_scale", Value::f32(0.1f)});
  if (s.long_rope) {
    // Phi-3.5's: a context n_ctx / 32 times the original, and its LongRoPE attention factor.
    const int64_t orig = std::max(1, s.n_ctx / 32);
    kv.push_back({a + ".rope.scaling.original_context_length", u32(orig)});
    const double scale = static_cast<double>(s.n_ctx) / static_cast<double>(orig);
    kv.push_back({a + ".rope.scaling.attn_factor",
                  Value::f32(static_cast<float>(std::sqrt(1.0 + std::log(scale) / std::log(static_cast<double>(orig)))))});
  }
  for (auto& e : tok) kv.push_back(std::move(e));

  std::vector<Planned> plan = plan_tensors(s, n_vocab);
  std::vector<TensorInfo> infos;
  infos.reserve(plan.size());
  for (const auto& p : plan) infos.push_back(p.info);
  auto header = encode_header(kv, infos);
  if (!header.ok()) return header.status().with_context(path);
  uint64_t total = header->size();
  for (const auto& t : infos) total += t.n_bytes + padding_after(t.n_bytes, kDefaultAlignment);

  AtomicFile out;
  PLUMB_RETURN_IF_ERROR(out.open(path));
  PLUMB_RETURN_IF_ERROR(out.write(*header));
  uint64_t done = header->size();
  uint64_t last_report = 0;
  const float weight_std = 0.02f;
  std::vector<float> row;
  std::vector<uint8_t> qrow;
  for (size_t i = 0; i < infos.size(); ++i) {
    const TensorInfo& t = infos[i];
    Rng rng(s.seed ^ name_hash(t.name));
    const int64_t ne0 = t.shape[0];
    const int64_t n_rows = t.n_elements() / ne0;
    const uint64_t row_bytes = t.n_bytes / static_cast<uint64_t>(n_rows);
    row.resize(static_cast<size_t>(ne0));
    qrow.resize(row_bytes);
    for (int64_t r = 0; r < n_rows; ++r) {
      for (auto& x : row) {
        switch (plan[i].init) {
          case Init::kWeight: x = weight_std * rng.normal(); break;
          case Init::kNorm: x = 1.0f + 0.1f * rng.normal(); break;
          case Init::kBias: x = 0.02f * rng.normal(); break;
          // Large enough to take a real share of the attention from the few positions a test has.
          case Init::kSink: x = rng.normal(); break;
          case Init::kLongFactor: x = 1.0f + 8.0f * std::fabs(rng.normal()); break;  // LongRoPE divisors > 0
          case Init::kShortFactor: x = 1.0f + 0.1f * std::fabs(rng.normal()); break;
        }
      }
      PLUMB_RETURN_IF_ERROR(quantize_row(t.type, row.data(), qrow.data(), ne0));
      PLUMB_RETURN_IF_ERROR(out.write(qrow));
      done += row_bytes;
      if (progress && done - last_report >= (16u << 20)) {
        last_report = done;
        if (!progress(done, total)) return Status::Cancelled(path + ": cancelled");
      }
    }
    const uint64_t pad = padding_after(t.n_bytes, kDefaultAlignment);
    PLUMB_RETURN_IF_ERROR(out.write_zeros(pad));
    done += pad;
  }
  PLUMB_RETURN_IF_ERROR(out.commit());
  if (progress) progress(total, total);
  return Status::Ok();
}

}  // namespace plumb::gguf
