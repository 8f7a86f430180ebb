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
  PLUMB_ASSIGN_OR_RETURN(w.attn_post_norm, tl.vector(layer_tensor(layer, "post_attention_norm.weight"), hp.n_embd));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_post_norm, tl.vector(layer_tensor(layer, "post_ffw_norm.weight"), hp.n_embd));
  return Status::Ok();
}

Status adjust(const gguf::File& f, ModelHParams& hp) {
  hp.embd_scale = std::sqrt(static_cast<float>(hp.n_embd));
  hp.ffn_gelu = true;
  if (hp.n_layer == 62) hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.n_embd / hp.n_head));
  if (f.find("gemma3.final_logit_softcapping") != nullptr) {
    PLUMB_ASSIGN_OR_RETURN(double cap, f.get_float("gemma3.final_logit_softcapping"));
    if (!(cap >= 0) || !std::isfinite(cap))
      return Status::Corrupt(f.path() + ": 'gemma3.final_logit_softcapping' must be a finite number >= 0");
    hp.logit_softcap = static_cast<float>(cap);
  }
  if (hp.sliding_window > 0) {
    hp.swa_period = 6;
    if (const gguf::Value* v = f.find("gemma3.attention.sliding_window_pattern"); v != nullptr) {
      if (v->type == gguf::ValueType::kArray)
        return Status::Unsupported(f.path() + ": 'gemma3.attention.sliding_window_pattern' is a per-layer array; "
                                              "plumb reads the period form (one integer)");
      PLUMB_ASSIGN_OR_RETURN(hp.swa_period, f.get_int("gemma3.attention.sliding_window_pattern"));
      if (hp.swa_period < 0)
        return Status::Corrupt(f.path() + ": 'gemma3.attention.sliding_window_pattern' is negative");
    }
    hp.rope_freq_base_swa = 10000.0f;
    if (f.find("gemma3.rope.freq_base_swa") != nullptr) {
      PLUMB_ASSIGN_OR_RETURN(double base, f.get_float("gemma3.rope.freq_base_swa"));
      if (!(base > 0) || !std::isfinite(base))
        return Status::Corrupt(f.path() + ": 'gemma3.rope.freq_base_swa' must be > 0");
      hp.rope_freq_base_swa = static_cast<float>(base);
    }
  }
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_gemma3() {
  static const ArchSpec spec{"gemma3", RopeType::kNeox, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
