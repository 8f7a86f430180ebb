// model/weights.h — views of a model's tensors inside the mapped GGUF file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plumb/gguf.h"
#include "plumb/model.h"
#include "plumb/tensor_type.h"

namespace plumb::model {

// A 2-D weight matrix: n_rows rows of n_cols elements of `type` (GGUF shape [n_cols, n_rows]).
// `data` points into the mapping and lives as long as the Model.
struct Matrix {
  const void* data = nullptr;
  TensorType type = TensorType::kF32;
  int64_t n_cols = 0;
  int64_t n_rows = 0;
  uint64_t n_bytes = 0;
  explicit operator bool() const { return data != nullptr; }
};

// n same-shaped matrices stored one after another in one tensor of GGUF shape
// [n_cols, n_rows, n]: the experts of a mixture-of-experts layer.
struct MatrixStack {
  Matrix first;          // matrix 0
  uint64_t stride = 0;   // bytes from one matrix to the next
  int64_t n = 0;
  explicit operator bool() const { return n > 0; }
  Matrix at(int64_t i) const {
    Matrix m = first;
    m.data = static_cast<const uint8_t*>(first.data) + static_cast<uint64_t>(i) * stride;
    return m;
  }
};

// A 1-D vector (norm weights, biases) as floats: points into the mapping when stored as
// F32, otherwise into a converted copy owned by the Model.
struct Vector {
  const float* data = nullptr;
  int64_t n = 0;
  explicit operator bool() const { return data != nullptr; }
};

struct LayerWeights {
  Vector attn_norm;           // absent in olmo2 (no norm before the attention or the FFN)
  Matrix wq, wk, wv, wo;
  Matrix wqkv;                // q, k and v rows in one matrix (phi3 files); then wq, wk and wv are empty
  // Biases, each applied where the file has it (qwen2 has q/k/v biases; llama, granite and
  // ernie4_5 files may carry any of these, as llama.cpp loads them).
  Vector bq, bk, bv, bo;
  // RMSNorm of q and k: per head when head_dim long (qwen3, gemma3), over the whole q / k when
  // q_dim / kv_dim long (olmo2).
  Vector q_norm, k_norm;
  Vector attn_post_norm, ffn_post_norm;  // RMSNorm of the attention / FFN output before the residual add (gemma3)
  // One learned logit per query head that joins the softmax over the scores but weighs no
  // value row, so a head can attend to nothing (gpt-oss).
  Vector attn_sinks;
  Vector ffn_norm;
  // Without ffn_gate (phi3), ffn_up has 2 * n_ff rows: the gate's, then the up projection's.
  Matrix ffn_gate, ffn_up, ffn_down;
  Vector ffn_gate_b, ffn_up_b, ffn_down_b;  // optional, as bq..bo
  // Mixture of experts (Mixtral, qwen3moe) instead of ffn_gate/up/down: a router of n_expert
  // rows and n_expert stacked FFNs of n_ff_exp.
  Matrix ffn_gate_inp;
  MatrixStack ffn_gate_exps, ffn_up_exps, ffn_down_exps;
  // Optional biases (gpt-oss): the router's (n_expert), and per expert the gate's and up's
  // (n_expert rows of n_ff_exp, one table) and down's (n_expert rows of n_embd).
  Vector ffn_gate_inp_b, ffn_gate_exps_b, ffn_up_exps_b, ffn_down_exps_b;
  // A shared expert, added to every token's mixture: qwen2moe's with weight
  // sigmoid(gate_inp_shexp . h), granitemoe's (no gate_inp_shexp) with weight 1.
  Vector ffn_gate_inp_shexp;
  Matrix ffn_gate_shexp, ffn_up_shexp, ffn_down_shexp;
};

struct Weights {
  Matrix tok_embd;   // n_vocab rows of n_embd
  Vector output_norm;
  Matrix output;     // == tok_embd when tied
  Vector rope_freqs; // optional, n_rot / 2 divisors of the rotation frequencies
  Vector rope_long, rope_short;  // optional LongRoPE divisors (n_rot / 2 each), for long / short contexts
  std::vector<LayerWeights> layers;
};

}  // namespace plumb::model
