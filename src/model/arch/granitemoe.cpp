// granitemoe: IBM Granite 3.x MoE (granite-3.0-1b-a400m, 3b-a800m) and Granite MoE Shared.
// granite's block and scalars with every FFN a mixture of experts: softmax router, the
// expert_used_count most probable experts, weights renormalised over them; each expert is
// feed_forward_length wide (llama.cpp reads no expert_feed_forward_length for this
// architecture).  A layer with ffn_up_shexp also runs a shared expert of
// expert_shared_feed_forward_length on every token, added to the mixture without a gate.
#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  PLUMB_RETURN_IF_ERROR(load_attention(tl, hp, layer, w));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_norm, tl.vector(layer_tensor(layer, "ffn_norm.weight"), hp.n_embd));
  return load_moe_ffn(tl, hp, layer, w);
}

Status adjust(const gguf::File& f, ModelHParams& hp) {
  PLUMB_RETURN_IF_ERROR(granite_adjust(f, hp));
  PLUMB_RETURN_IF_ERROR(require_experts(f, hp));
  hp.n_ff_exp = hp.n_ff;
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_granitemoe() {
  static const ArchSpec spec{"granitemoe", RopeType::kNorm, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
