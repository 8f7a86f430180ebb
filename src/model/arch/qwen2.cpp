// qwen2: Qwen2 / Qwen2.5.  A llama block plus biases on Q, K and V; RoPE in NeoX order
// (rotating x[i] with x[i + n_rot/2]), as llama.cpp runs it.
#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  PLUMB_RETURN_IF_ERROR(load_llama_block(tl, hp, layer, w));
  const int64_t q_dim = hp.n_head * hp.head_dim, kv_dim = hp.n_head_kv * hp.head_dim;
  PLUMB_ASSIGN_OR_RETURN(w.bq, tl.vector(layer_tensor(layer, "attn_q.bias"), q_dim));
  PLUMB_ASSIGN_OR_RETURN(w.bk, tl.vector(layer_tensor(layer, "attn_k.bias"), kv_dim));
  PLUMB_ASSIGN_OR_RETURN(w.bv, tl.vector(layer_tensor(layer, "attn_v.bias"), kv_dim));
  return Status::Ok();
}

Status adjust(const gguf::File&, ModelHParams& hp) {
  hp.has_qkv_bias = true;
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_qwen2() {
  static const ArchSpec spec{"qwen2", RopeType::kNeox, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
