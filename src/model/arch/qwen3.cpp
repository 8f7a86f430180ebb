// qwen3: Qwen3 (dense).  A llama block without biases whose queries and keys each get an
// RMSNorm over every head (attn_q_norm / attn_k_norm, head_dim weights) before RoPE, which
// is in NeoX order as for qwen2.  The head dimension comes from attention.key_length (128 in
// every released size), so q_dim = n_head * head_dim differs from n_embd in most of them.
#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  PLUMB_RETURN_IF_ERROR(load_llama_block(tl, hp, layer, w));
  PLUMB_RETURN_IF_ERROR(load_qk_norms(tl, hp, layer, w));
  return Status::Ok();
}

Status adjust(const gguf::File& f, ModelHParams& hp) {
  // llama.cpp's qwen3 graph rotates the whole head; a file saying otherwise is not one it runs.
  if (hp.n_rot != hp.head_dim)
    return Status::Unsupported(f.path() + ": 'qwen3.rope.dimension_count' is " + std::to_string(hp.n_rot) +
                               ", but qwen3 rotates the whole head of " + std::to_string(hp.head_dim));
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_qwen3() {
  static const ArchSpec spec{"qwen3", RopeType::kNeox, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
