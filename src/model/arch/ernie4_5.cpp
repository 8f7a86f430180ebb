// ernie4_5: Baidu ERNIE 4.5 dense (ERNIE-4.5-0.3B).  A llama block (RoPE in normal order, GQA,
// heads of attention.key_length), as llama.cpp's ernie4_5 graph runs it.  That graph loads an
// attn_output.bias but never adds it, so a file with one is refused rather than run in a way
// that differs from either llama.cpp or the model's own code.
#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  if (tl.has(layer_tensor(layer, "attn_output.bias")))
    return Status::Unsupported(tl.file().path() + ": tensor '" + layer_tensor(layer, "attn_output.bias") +
                               "': llama.cpp loads but does not apply this bias for ernie4_5; plumb does not "
                               "guess which is meant");
  return load_llama_block(tl, hp, layer, w);
}

}  // namespace

const ArchSpec& arch_ernie4_5() {
  static const ArchSpec spec{"ernie4_5", RopeType::kNorm, nullptr, &load_layer};
  return spec;
}

}  // namespace plumb::model
