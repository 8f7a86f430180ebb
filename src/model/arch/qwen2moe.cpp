// qwen2moe: Qwen1.5-MoE, Qwen2-57B-A14B.  qwen2's attention (q/k/v biases, NeoX RoPE) with every
// FFN a mixture of experts whose chosen probabilities are used as they are (not renormalised),
// plus a shared expert of expert_shared_feed_forward_length on every token, weighted by
// sigmoid(ffn_gate_inp_shexp . h), as llama.cpp runs it.
#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  PLUMB_RETURN_IF_ERROR(load_attention(tl, hp, layer, w));
  PLUMB_RETURN_IF_ERROR(load_qkv_bias(tl, hp, layer, w));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_norm, tl.vector(layer_tensor(layer, "ffn_norm.weight"), hp.n_embd));
  PLUMB_RETURN_IF_ERROR(load_moe_ffn(tl, hp, layer, w));
  if (!w.ffn_gate_inp_shexp)
    return Status::NotFound(tl.file().path() + ": tensor '" + layer_tensor(layer, "ffn_gate_inp_shexp.weight") +
                            "' is missing (qwen2moe's shared expert)");
  return Status::Ok();
}

Status adjust(const gguf::File& f, ModelHParams& hp) {
  PLUMB_RETURN_IF_ERROR(require_experts(f, hp));
  if (f.find("qwen2moe.expert_feed_forward_length") == nullptr) hp.n_ff_exp = hp.n_ff / hp.n_expert_used;
  hp.moe_norm_weights = false;
  hp.has_qkv_bias = true;
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_qwen2moe() {
  static const ArchSpec spec{"qwen2moe", RopeType::kNeox, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
