// gemma: Gemma (2B, 7B; also CodeGemma).  A llama block with NeoX RoPE whose token embeddings are
// scaled by sqrt(n_embd) and whose FFN gate is GELU (tanh form), with the output tied to the
// embeddings, as llama.cpp's gemma graph runs it.  Norm weights are used as stored: llama.cpp's
// converter already adds Gemma's "1 +".
#include <cmath>

#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  return load_llama_block(tl, hp, layer, w);
}

Status adjust(const gguf::File&, ModelHParams& hp) {
  hp.embd_scale = std::sqrt(static_cast<float>(hp.n_embd));
  hp.ffn_gelu = true;
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_gemma() {
  static const ArchSpec spec{"gemma", RopeType::kNeox, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
