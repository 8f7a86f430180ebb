// smollm3: SmolLM3.  A llama block (RoPE in normal order) except that every fourth layer
// (l % 4 == 3) uses no positional encoding at all ("NoPE"), as llama.cpp runs it.
#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  return load_llama_block(tl, hp, layer, w);
}

Status adjust(const gguf::File&, ModelHParams& hp) {
  hp.nope_period = 4;
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_smollm3() {
  static const ArchSpec spec{"smollm3", RopeType::kNorm, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
