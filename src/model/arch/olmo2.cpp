// olmo2: OLMo 2 (1B … 32B; OLMo 3 files too).  Unlike llama, no RMSNorm before the attention or
// the FFN: each branch reads the residual stream x itself and its output is RMS-normalised
// (post_attention_norm, post_ffw_norm) before the residual add; q and k are RMS-normalised over
// their whole width (attn_q_norm of n_head * head_dim, attn_k_norm of n_head_kv * head_dim)
// before NeoX RoPE.  With attention.sliding_window (OLMo 3), three of every four layers
// (sliding_window_pattern, default 4) use the window and rotate with rope.freq_base_swa (default:
// the global base) unscaled, as llama.cpp runs it.
#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  const int64_t q_dim = hp.n_head * hp.head_dim, kv_dim = hp.n_head_kv * hp.head_dim;
  PLUMB_RETURN_IF_ERROR(load_projections(tl, hp, layer, w));
  PLUMB_ASSIGN_OR_RETURN(w.q_norm, tl.vector(layer_tensor(layer, "attn_q_norm.weight"), q_dim));
  PLUMB_ASSIGN_OR_RETURN(w.k_norm, tl.vector(layer_tensor(layer, "attn_k_norm.weight"), kv_dim));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_gate, tl.matrix(layer_tensor(layer, "ffn_gate.weight"), hp.n_embd, hp.n_ff));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_up, tl.matrix(layer_tensor(layer, "ffn_up.weight"), hp.n_embd, hp.n_ff));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_down, tl.matrix(layer_tensor(layer, "ffn_down.weight"), hp.n_ff, hp.n_embd));
  return load_post_norms(tl, hp, layer, w);
}

Status adjust(const gguf::File& f, ModelHParams& hp) {
  if (hp.n_rot != hp.head_dim)
    return Status::Unsupported(f.path() + ": 'olmo2.rope.dimension_count' is " + std::to_string(hp.n_rot) +
                               ", but olmo2 rotates the whole head of " + std::to_string(hp.head_dim));
  if (hp.sliding_window > 0) {
    PLUMB_ASSIGN_OR_RETURN(hp.swa_period, swa_period(f, "olmo2", 4));
    PLUMB_ASSIGN_OR_RETURN(hp.rope_freq_base_swa, optional_positive(f, "olmo2.rope.freq_base_swa", hp.rope_freq_base));
    hp.rope_freq_scale_swa = 1.0f;
  }
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_olmo2() {
  static const ArchSpec spec{"olmo2", RopeType::kNeox, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
