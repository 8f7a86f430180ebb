// phi3: Phi-3 / Phi-3.5-mini (4k context), Phi-4.  A llama block with NeoX RoPE whose query, key
// and value projections come fused in one attn_qkv matrix and whose ffn_up holds the gate rows
// followed by the up rows (2 * n_ff), as llama.cpp's converter writes them.
//
// As in llama.cpp, attention.sliding_window is ignored (llama.cpp disables Phi's sliding window).
// The 128k "LongRoPE" variants (Phi-3.5-mini, Phi-4-mini: rope_factors_long / rope_factors_short
// and rope.scaling.attn_factor) are handled by the model loader and the forward pass for any
// architecture, as llama.cpp does.
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

Status adjust(const gguf::File&, ModelHParams& hp) {
  hp.sliding_window = 0;
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_phi3() {
  static const ArchSpec spec{"phi3", RopeType::kNeox, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
