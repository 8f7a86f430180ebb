// gemma3: Gemma 3 (text; 270M … 27B).  A llama block with NeoX RoPE plus:
//   - token embeddings scaled by sqrt(n_embd);
//   - per-head RMSNorm of q and k before RoPE (as qwen3), heads of attention.key_length;
//   - RMSNorm of the attention output and of the FFN output before each residual add
//     (attn_post_norm, ffn_post_norm);
//   - a GELU (tanh form) gate instead of SiLU;
//   - sliding-window attention in five of every six layers (attention.sliding_window_pattern,
//     default 6: layer l is global when l % 6 == 5), whose RoPE uses rope.freq_base_swa
//     (default 10000) and no scaling while the global layers use rope.freq_base and the file's
//     scaling;
//   - q.k scaled by 1/sqrt(head_dim), except the 27B (62 layers): 1/sqrt(n_embd / n_head);
//   - an optional final_logit_softcapping.
// Norm weights are used as stored: llama.cpp's converter already adds Gemma's "1 +".  All of
// this follows llama.cpp's gemma3 graph, so plumb computes what it computes on the same file.
#include <cmath>

#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  PLUMB_RETURN_IF_ERROR(load_llama_block(tl, hp, layer, w));
  PLUMB_RETURN_IF_ERROR(load_qk_norms(tl, hp, layer, w));
  return load_post_norms(tl, hp, layer, w);
}

Status adjust(const gguf::File& f, ModelHParams& hp) {
  hp.embd_scale = std::sqrt(static_cast<float>(hp.n_embd));
  hp.ffn_gelu = true;
  if (hp.n_layer == 62) hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.n_embd / hp.n_head));
  // Absent means none for gemma3 (gemma2 defaults to 30).
  if (f.find("gemma3.final_logit_softcapping") != nullptr) {
    PLUMB_ASSIGN_OR_RETURN(hp.logit_softcap, optional_positive(f, "gemma3.final_logit_softcapping", 0.0f));
  }
  if (hp.sliding_window > 0) {
    PLUMB_ASSIGN_OR_RETURN(hp.swa_period, swa_period(f, "gemma3", 6));
    PLUMB_ASSIGN_OR_RETURN(hp.rope_freq_base_swa, optional_positive(f, "gemma3.rope.freq_base_swa", 10000.0f));
    hp.rope_freq_scale_swa = 1.0f;
  }
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_gemma3() {
  static const ArchSpec spec{"gemma3", RopeType::kNeox, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
