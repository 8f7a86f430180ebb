// gpt-oss: OpenAI's open-weight mixture-of-experts models (gpt-oss-20b, gpt-oss-120b), as
// llama.cpp's openai-moe graph runs them:
//   - attention with q/k/v/output biases, heads of attention.key_length (64) that need not
//     multiply to n_embd (64 x 64 = 4096 against 2880), NeoX RoPE with YaRN scaling;
//   - a learned sink logit per query head (attn_sinks) in every softmax (see context.cpp);
//   - a sliding window (attention.sliding_window, 128) in every other layer, starting with
//     layer 0 (attention.sliding_window_pattern, default 2);
//   - every FFN a mixture of expert_count experts with biases: the router's bias is added to its
//     logits, the expert_used_count experts of largest logit run, weighted by a softmax over
//     their logits, each computing down(swiglu_oai(gate h + bg, up h + bu)) + bd;
//   - the FFN's input norm is called post_attention_norm in these files.
// The experts are stored as MXFP4 in the published files, the rest as f16/bf16/q8_0.
#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status load_layer(TensorLoader& tl, const ModelHParams& hp, int l, LayerWeights& w) {
  const int64_t e = hp.n_embd, X = hp.n_expert, F = hp.n_ff_exp;
  PLUMB_RETURN_IF_ERROR(load_attention(tl, hp, l, w));
  if (!w.bo) return Status::NotFound(tl.file().path() + ": tensor '" + layer_tensor(l, "attn_output.bias") + "' is missing");
  PLUMB_ASSIGN_OR_RETURN(w.attn_sinks, tl.vector(layer_tensor(l, "attn_sinks.weight"), hp.n_head));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_norm, tl.vector(layer_tensor(l, "post_attention_norm.weight"), e));
  PLUMB_RETURN_IF_ERROR(load_moe_ffn(tl, hp, l, w));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_gate_inp_b, tl.vector(layer_tensor(l, "ffn_gate_inp.bias"), X));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_gate_exps_b, tl.table(layer_tensor(l, "ffn_gate_exps.bias"), F, X));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_up_exps_b, tl.table(layer_tensor(l, "ffn_up_exps.bias"), F, X));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_down_exps_b, tl.table(layer_tensor(l, "ffn_down_exps.bias"), e, X));
  return Status::Ok();
}

Status adjust(const gguf::File& f, ModelHParams& hp) {
  PLUMB_RETURN_IF_ERROR(require_experts(f, hp));
  for (const char* key : {"gpt-oss.expert_feed_forward_length", "gpt-oss.attention.sliding_window"})
    if (f.find(key) == nullptr) return Status::NotFound(f.path() + ": metadata key '" + key + "' is missing");
  if (hp.sliding_window < 1)
    return Status::Corrupt(f.path() + ": metadata key 'gpt-oss.attention.sliding_window' must be > 0");
  PLUMB_ASSIGN_OR_RETURN(hp.swa_period, swa_period(f, "gpt-oss", 2));
  if (f.find("gpt-oss.rope.freq_base_swa") != nullptr) {
    PLUMB_ASSIGN_OR_RETURN(hp.rope_freq_base_swa, optional_positive(f, "gpt-oss.rope.freq_base_swa", 0.0f));
    hp.rope_freq_scale_swa = hp.rope_freq_scale;
  }
  hp.moe_softmax_after_topk = true;
  hp.ffn_swiglu_oai = true;
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_gpt_oss() {
  static const ArchSpec spec{"gpt-oss", RopeType::kNeox, &adjust, &load_layer};
  return spec;
}

}  // namespace plumb::model
