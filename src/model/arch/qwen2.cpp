// qwen2: Qwen2 / Qwen2.5.  A llama block plus biases on Q, K and V; RoPE in NeoX order
// (rotating x[i] with x[i + n_rot/2]), as llama.cpp runs it.
#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  PLUMB_RETURN_IF_ERROR(load_llama_block(tl, hp, layer, w));
  return load_qkv_bias(tl, hp, layer, w);
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
