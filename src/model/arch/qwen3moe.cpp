// qwen3moe: Qwen3 mixture-of-experts (Qwen3-30B-A3B, 235B-A22B).  qwen3's attention (per-head q/k
// norms, NeoX RoPE, heads of attention.key_length) with every FFN a mixture of expert_count experts
// of expert_feed_forward_length, expert_used_count of them per token (softmax router, weights
// normalised over the chosen ones), as llama.cpp runs it.
#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  PLUMB_RETURN_IF_ERROR(load_attention(tl, hp, layer, w));
  PLUMB_RETURN_IF_ERROR(load_qk_norms(tl, hp, layer, w));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_norm, tl.vector(layer_tensor(layer, "ffn_norm.weight"), hp.n_embd));
  return load_moe_ffn(tl, hp, layer, w);
}

Status adjust(const gguf::File& f, ModelHParams& hp) {
  PLUMB_RETURN_IF_ERROR(require_experts(f, hp));
  // llama.cpp's default when the file does not say: the dense width split over the used experts.
  if (f.find("qwen3moe.expert_feed_forward_length") == nullptr) hp.n_ff_exp = hp.n_ff / hp.n_expert_used;
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_qwen3moe() {
  static const ArchSpec spec{"qwen3moe", RopeType::kNeox, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
