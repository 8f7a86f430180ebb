// phi3: Phi-3 / Phi-3.5-mini (4k context), Phi-4.  A llama block with NeoX RoPE whose query, key
// and value projections come fused in one attn_qkv matrix and whose ffn_up holds the gate rows
// followed by the up rows (2 * n_ff), as llama.cpp's converter writes them.
//
// Two choices follow llama.cpp, so that plumb computes what it computes on the same file:
// attention.sliding_window is ignored (llama.cpp disables Phi's sliding window), and the 128k
// "LongRoPE" variants (rope_factors_long / rope_factors_short tensors, a context-dependent
// attention factor) are refused rather than run with the wrong rotation.
#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  PLUMB_RETURN_IF_ERROR(load_attention(tl, hp, layer, w));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_norm, tl.vector(layer_tensor(layer, "ffn_norm.weight"), hp.n_embd));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_up, tl.matrix(layer_tensor(layer, "ffn_up.weight"), hp.n_embd, 2 * hp.n_ff));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_down, tl.matrix(layer_tensor(layer, "ffn_down.weight"), hp.n_ff, hp.n_embd));
  return Status::Ok();
}

Status adjust(const gguf::File& f, ModelHParams& hp) {
  for (const char* t : {"rope_factors_long.weight", "rope_factors_short.weight"})
    if (f.find_tensor(t) != nullptr)
      return Status::Unsupported(f.path() + ": tensor '" + t +
                                 "' marks a LongRoPE (128k-context) Phi model, which plumb does not run yet; the 4k "
                                 "variants run");
  hp.sliding_window = 0;
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_phi3() {
  static const ArchSpec spec{"phi3", RopeType::kNeox, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
