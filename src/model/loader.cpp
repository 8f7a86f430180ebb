#include "model/loader.h"

#include <cstring>

#include "kernels/kernels.h"

namespace plumb::model {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

std::string layer_tensor(int layer, const char* suffix) {
  return "blk." + std::to_string(layer) + "." + suffix;
}

Result<const gguf::TensorInfo*> TensorLoader::find(const std::string& name, std::vector<int64_t> expected) {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) return Status::NotFound(file_.path() + ": tensor '" + name + "' is missing");
  // GGUF may store trailing dimensions of 1 (e.g. [64, 1] for a vector); compare without them.
  std::vector<int64_t> got = t->shape;
  while (got.size() > expected.size() && got.back() == 1) got.pop_back();
  if (got != expected)
    return Status::Corrupt(file_.path() + ": tensor '" + name + "' has shape " + shape_str(t->shape) + ", expected " +
                           shape_str(expected));
  return t;
}

Result<Matrix> TensorLoader::matrix(const std::string& name, int64_t n_cols, int64_t n_rows) {
  PLUMB_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, {n_cols, n_rows}));
  if (!kernels::supports(t->type))
    return Status::Unsupported(file_.path() + ": tensor '" + name + "' has type " +
                               std::string(tensor_type_name(t->type)) +
                               ", which the engine cannot compute with (supported: f32, f16, bf16, q8_0, q4_0, q4_1, "
                               "q5_0, q5_1 and the K-quants the kernels provide)");
  Matrix m;
  m.data = file_.tensor_data(*t).data();
  m.type = t->type;
  m.n_cols = n_cols;
  m.n_rows = n_rows;
  m.n_bytes = t->n_bytes;
  return m;
}

Result<MatrixStack> TensorLoader::stack(const std::string& name, int64_t n_cols, int64_t n_rows, int64_t n) {
  PLUMB_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, {n_cols, n_rows, n}));
  if (!kernels::supports(t->type))
    return Status::Unsupported(file_.path() + ": tensor '" + name + "' has type " +
                               std::string(tensor_type_name(t->type)) + ", which the engine cannot compute with");
  MatrixStack s;
  s.n = n;
  s.stride = t->n_bytes / static_cast<uint64_t>(n);
  s.first.data = file_.tensor_data(*t).data();
  s.first.type = t->type;
  s.first.n_cols = n_cols;
  s.first.n_rows = n_rows;
  s.first.n_bytes = s.stride;
  return s;
}

Result<Vector> TensorLoader::optional_vector(const std::string& name, int64_t n) {
  if (!has(name)) return Vector{};
  return vector(name, n);
}

Result<Vector> TensorLoader::vector(const std::string& name, int64_t n) { return floats(name, {n}); }

Result<Vector> TensorLoader::table(const std::string& name, int64_t n, int64_t m) { return floats(name, {n, m}); }

Result<Vector> TensorLoader::floats(const std::string& name, std::vector<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  PLUMB_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, std::move(shape)));
  auto bytes = file_.tensor_data(*t);
  Vector v;
  v.n = n;
  if (t->type == TensorType::kF32 && reinterpret_cast<uintptr_t>(bytes.data()) % alignof(float) == 0) {
    v.data = reinterpret_cast<const float*>(bytes.data());
    return v;
  }
  if (t->type != TensorType::kF32 && t->type != TensorType::kF16 && t->type != TensorType::kBF16)
    return Status::Unsupported(file_.path() + ": tensor '" + name + "' has type " +
                               std::string(tensor_type_name(t->type)) + ", expected f32, f16 or bf16");
  auto& buf = owned_.emplace_back(static_cast<size_t>(n));
  if (t->type == TensorType::kF32)
    std::memcpy(buf.data(), bytes.data(), static_cast<size_t>(n) * sizeof(float));
  else
    kernels::dequantize_row(t->type, bytes.data(), buf.data(), n);
  v.data = buf.data();
  return v;
}

Status load_attention(TensorLoader& tl, const ModelHParams& hp, int l, LayerWeights& w) {
  PLUMB_ASSIGN_OR_RETURN(w.attn_norm, tl.vector(layer_tensor(l, "attn_norm.weight"), hp.n_embd));
  return load_projections(tl, hp, l, w);
}

Status load_projections(TensorLoader& tl, const ModelHParams& hp, int l, LayerWeights& w) {
  const int64_t e = hp.n_embd, q_dim = hp.n_head * hp.head_dim, kv_dim = hp.n_head_kv * hp.head_dim;
  if (tl.has(layer_tensor(l, "attn_qkv.weight"))) {
    PLUMB_ASSIGN_OR_RETURN(w.wqkv, tl.matrix(layer_tensor(l, "attn_qkv.weight"), e, q_dim + 2 * kv_dim));
  } else if (!tl.has(layer_tensor(l, "attn_q.weight")) && !tl.has(layer_tensor(l, "attn_k.weight"))) {
    return Status::NotFound(tl.file().path() + ": tensor '" + layer_tensor(l, "attn_q.weight") + "' is missing (nor is "
                            "there a fused '" + layer_tensor(l, "attn_qkv.weight") + "')");
  } else {
    PLUMB_ASSIGN_OR_RETURN(w.wq, tl.matrix(layer_tensor(l, "attn_q.weight"), e, q_dim));
    PLUMB_ASSIGN_OR_RETURN(w.wk, tl.matrix(layer_tensor(l, "attn_k.weight"), e, kv_dim));
    PLUMB_ASSIGN_OR_RETURN(w.wv, tl.matrix(layer_tensor(l, "attn_v.weight"), e, kv_dim));
    // Optional biases, each on its own, as llama.cpp loads them for every architecture.
    PLUMB_ASSIGN_OR_RETURN(w.bq, tl.optional_vector(layer_tensor(l, "attn_q.bias"), q_dim));
    PLUMB_ASSIGN_OR_RETURN(w.bk, tl.optional_vector(layer_tensor(l, "attn_k.bias"), kv_dim));
    PLUMB_ASSIGN_OR_RETURN(w.bv, tl.optional_vector(layer_tensor(l, "attn_v.bias"), kv_dim));
  }
  if (w.wqkv && tl.has(layer_tensor(l, "attn_qkv.bias")))
    return Status::Unsupported(tl.file().path() + ": tensor '" + layer_tensor(l, "attn_qkv.bias") +
                               "': a bias on the fused attn_qkv is not supported yet");
  PLUMB_ASSIGN_OR_RETURN(w.wo, tl.matrix(layer_tensor(l, "attn_output.weight"), q_dim, e));
  PLUMB_ASSIGN_OR_RETURN(w.bo, tl.optional_vector(layer_tensor(l, "attn_output.bias"), e));
  return Status::Ok();
}

Status load_qkv_bias(TensorLoader& tl, const ModelHParams& hp, int l, LayerWeights& w) {
  if (w.bq && w.bk && w.bv) return Status::Ok();  // load_projections found all three
  const int64_t q_dim = hp.n_head * hp.head_dim, kv_dim = hp.n_head_kv * hp.head_dim;
  PLUMB_ASSIGN_OR_RETURN(w.bq, tl.vector(layer_tensor(l, "attn_q.bias"), q_dim));
  PLUMB_ASSIGN_OR_RETURN(w.bk, tl.vector(layer_tensor(l, "attn_k.bias"), kv_dim));
  PLUMB_ASSIGN_OR_RETURN(w.bv, tl.vector(layer_tensor(l, "attn_v.bias"), kv_dim));
  return Status::Ok();
}

Status load_qk_norms(TensorLoader& tl, const ModelHParams& hp, int l, LayerWeights& w) {
  PLUMB_ASSIGN_OR_RETURN(w.q_norm, tl.vector(layer_tensor(l, "attn_q_norm.weight"), hp.head_dim));
  PLUMB_ASSIGN_OR_RETURN(w.k_norm, tl.vector(layer_tensor(l, "attn_k_norm.weight"), hp.head_dim));
  return Status::Ok();
}

Status load_post_norms(TensorLoader& tl, const ModelHParams& hp, int l, LayerWeights& w) {
  PLUMB_ASSIGN_OR_RETURN(w.attn_post_norm, tl.vector(layer_tensor(l, "post_attention_norm.weight"), hp.n_embd));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_post_norm, tl.vector(layer_tensor(l, "post_ffw_norm.weight"), hp.n_embd));
  return Status::Ok();
}

Status load_moe_ffn(TensorLoader& tl, const ModelHParams& hp, int l, LayerWeights& w) {
  const int64_t e = hp.n_embd, X = hp.n_expert, F = hp.n_ff_exp;
  if (X < 1 || hp.n_expert_used < 1)
    return Status::NotFound(tl.file().path() + ": layer " + std::to_string(l) + " is a mixture of experts "
                            "(ffn_gate_inp.weight) but '" + hp.arch + ".expert_count' / '" + hp.arch +
                            ".expert_used_count' are missing");
  PLUMB_ASSIGN_OR_RETURN(w.ffn_gate_inp, tl.matrix(layer_tensor(l, "ffn_gate_inp.weight"), e, X));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_gate_exps, tl.stack(layer_tensor(l, "ffn_gate_exps.weight"), e, F, X));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_up_exps, tl.stack(layer_tensor(l, "ffn_up_exps.weight"), e, F, X));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_down_exps, tl.stack(layer_tensor(l, "ffn_down_exps.weight"), F, e, X));
  if (tl.has(layer_tensor(l, "ffn_gate_inp_shexp.weight"))) {
    PLUMB_ASSIGN_OR_RETURN(w.ffn_gate_inp_shexp, tl.vector(layer_tensor(l, "ffn_gate_inp_shexp.weight"), e));
  }
  if (w.ffn_gate_inp_shexp || tl.has(layer_tensor(l, "ffn_up_shexp.weight"))) {
    const int64_t S = hp.n_ff_shexp;
    PLUMB_ASSIGN_OR_RETURN(w.ffn_gate_shexp, tl.matrix(layer_tensor(l, "ffn_gate_shexp.weight"), e, S));
    PLUMB_ASSIGN_OR_RETURN(w.ffn_up_shexp, tl.matrix(layer_tensor(l, "ffn_up_shexp.weight"), e, S));
    PLUMB_ASSIGN_OR_RETURN(w.ffn_down_shexp, tl.matrix(layer_tensor(l, "ffn_down_shexp.weight"), S, e));
  }
  return Status::Ok();
}

Status load_llama_block(TensorLoader& tl, const ModelHParams& hp, int l, LayerWeights& w) {
  const int64_t e = hp.n_embd;
  PLUMB_RETURN_IF_ERROR(load_attention(tl, hp, l, w));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_norm, tl.vector(layer_tensor(l, "ffn_norm.weight"), e));
  if (tl.has(layer_tensor(l, "ffn_gate_inp.weight"))) return load_moe_ffn(tl, hp, l, w);
  PLUMB_ASSIGN_OR_RETURN(w.ffn_gate, tl.matrix(layer_tensor(l, "ffn_gate.weight"), e, hp.n_ff));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_up, tl.matrix(layer_tensor(l, "ffn_up.weight"), e, hp.n_ff));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_down, tl.matrix(layer_tensor(l, "ffn_down.weight"), hp.n_ff, e));
  return load_ffn_biases(tl, hp, l, w);
}

Status load_ffn_biases(TensorLoader& tl, const ModelHParams& hp, int l, LayerWeights& w) {
  PLUMB_ASSIGN_OR_RETURN(w.ffn_gate_b, tl.optional_vector(layer_tensor(l, "ffn_gate.bias"), hp.n_ff));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_up_b, tl.optional_vector(layer_tensor(l, "ffn_up.bias"), hp.n_ff));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_down_b, tl.optional_vector(layer_tensor(l, "ffn_down.bias"), hp.n_embd));
  return Status::Ok();
}

}  // namespace plumb::model
