// gemma2: Gemma 2 (2B, 9B, 27B).  As gemma (embeddings times sqrt(n_embd), GELU-tanh gate, output
// tied to the embeddings) plus, following llama.cpp's gemma2 graph:
//   - RMSNorm of the attention and FFN outputs before each residual add (post_attention_norm,
//     post_ffw_norm);
//   - a sliding window (attention.sliding_window, default 4096) in every other layer
//     (attention.sliding_window_pattern, default 2: layer l is global when l % 2 == 1), with the
//     same RoPE as the global layers unless rope.freq_base_swa says otherwise;
//   - attention scores soft-capped: 50 tanh(s / 50) (attn_logit_softcapping), and the logits:
//     30 tanh(l / 30) (final_logit_softcapping);
//   - q.k scaled by 1/sqrt(head_dim), except the 27B (46 layers): 1/sqrt(n_embd / n_head).
#include <cmath>

#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  PLUMB_RETURN_IF_ERROR(load_llama_block(tl, hp, layer, w));
  return load_post_norms(tl, hp, layer, w);
}

Status adjust(const gguf::File& f, ModelHParams& hp) {
  hp.embd_scale = std::sqrt(static_cast<float>(hp.n_embd));
  hp.ffn_gelu = true;
  if (hp.n_layer == 46) hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.n_embd / hp.n_head));
  PLUMB_ASSIGN_OR_RETURN(hp.attn_softcap, optional_positive(f, "gemma2.attn_logit_softcapping", 50.0f));
  PLUMB_ASSIGN_OR_RETURN(hp.logit_softcap, optional_positive(f, "gemma2.final_logit_softcapping", 30.0f));
  if (hp.sliding_window == 0) hp.sliding_window = 4096;
  PLUMB_ASSIGN_OR_RETURN(hp.swa_period, swa_period(f, "gemma2", 2));
  if (f.find("gemma2.rope.freq_base_swa") != nullptr) {
    PLUMB_ASSIGN_OR_RETURN(hp.rope_freq_base_swa, optional_positive(f, "gemma2.rope.freq_base_swa", 0.0f));
    hp.rope_freq_scale_swa = hp.rope_freq_scale;
  }
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_gemma2() {
  static const ArchSpec spec{"gemma2", RopeType::kNeox, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
