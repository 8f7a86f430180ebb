// model/loader.h — finds tensors by name and checks their shapes while a model loads.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "model/weights.h"
#include "plumb/gguf.h"
#include "plumb/status.h"

namespace plumb::model {

class TensorLoader {
 public:
  explicit TensorLoader(const gguf::File& file) : file_(file) {}

  // A matrix with GGUF shape [n_cols, n_rows]; NotFound / Corrupt naming the tensor
  // ("FILE: tensor 'blk.3.ffn_up.weight' has shape [64, 100], expected [64, 172]"), or
  // Unsupported when the engine cannot compute with its type.
  Result<Matrix> matrix(const std::string& name, int64_t n_cols, int64_t n_rows);
  // n matrices of [n_cols, n_rows] in one tensor of shape [n_cols, n_rows, n].
  Result<MatrixStack> stack(const std::string& name, int64_t n_cols, int64_t n_rows, int64_t n);
  // A vector of n floats (any float type; converted when not F32).
  Result<Vector> vector(const std::string& name, int64_t n);
  // A [n, m] float tensor as one Vector of n * m floats, row after row (one weight vector of n
  // per head: Command R+'s q/k norms).
  Result<Vector> table(const std::string& name, int64_t n, int64_t m);
  // vector(name, n) when the file has the tensor, else an empty Vector.
  Result<Vector> optional_vector(const std::string& name, int64_t n);
  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

  const gguf::File& file() const { return file_; }
  // Converted vectors live here (a deque so that pointers stay valid).
  std::deque<std::vector<float>>& owned() { return owned_; }

 private:
  Result<const gguf::TensorInfo*> find(const std::string& name, std::vector<int64_t> expected);
  Result<Vector> floats(const std::string& name, std::vector<int64_t> shape);
  const gguf::File& file_;
  std::deque<std::vector<float>> owned_;
};

// "blk.<i>.<suffix>"
std::string layer_tensor(int layer, const char* suffix);

// attn_norm, the query/key/value projections (one fused attn_qkv matrix when the file has it,
// as llama.cpp accepts for every architecture, otherwise attn_q, attn_k, attn_v) and attn_output,
// with whichever of attn_q/k/v.bias and attn_output.bias the file has (llama.cpp applies them
// for every architecture too).
Status load_attention(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w);
// load_attention without attn_norm (olmo2 normalises after the branch instead).
Status load_projections(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w);

// Requires attn_q.bias, attn_k.bias and attn_v.bias (qwen2, qwen2moe); load_projections has
// loaded whichever the file has, so this only names a missing one.
Status load_qkv_bias(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w);

// attn_q_norm and attn_k_norm: per-head RMSNorm weights of head_dim (qwen3, gemma3).
Status load_qk_norms(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w);

// post_attention_norm and post_ffw_norm: RMSNorm of each branch's output (gemma2, gemma3).
Status load_post_norms(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w);

// A mixture-of-experts FFN: ffn_gate_inp (the router) and ffn_gate/up/down_exps, and a shared
// expert (ffn_gate/up/down_shexp, with its gate ffn_gate_inp_shexp where present) when the
// layer has one.
Status load_moe_ffn(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w);

// The tensors every llama-like block has: load_attention's, then ffn_norm, and ffn_gate/up/down
// with load_ffn_biases' or, when the layer has a router (ffn_gate_inp), load_moe_ffn's.
Status load_llama_block(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w);
// Whichever of ffn_gate.bias, ffn_up.bias and ffn_down.bias the file has.
Status load_ffn_biases(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w);

}  // namespace plumb::model
