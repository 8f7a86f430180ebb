// granite: IBM Granite 3.x (dense).  A llama block (RoPE in normal order) with four scalars from
// the file, applied as llama.cpp's granite graph applies them:
//   embedding_scale   multiplies the token embeddings;
//   attention.scale   replaces 1/sqrt(head_dim) on q.k;
//   residual_scale    multiplies each branch's output before its residual add;
//   logit_scale       divides the logits (required, as in llama.cpp);
// and rope.scaling.finetuned = false turns RoPE off in every layer.  Bias tensors (attn_output,
// ffn_gate/up/down) are applied where the file has them, as for every llama block.
#include "model/arch/arch.h"

namespace plumb::model {

Status granite_adjust(const gguf::File& f, ModelHParams& hp) {
  const std::string a = hp.arch + ".";
  if (f.find(a + "logit_scale") == nullptr)
    return Status::NotFound(f.path() + ": metadata key '" + a + "logit_scale' is missing (required for " + hp.arch + ")");
  PLUMB_ASSIGN_OR_RETURN(hp.logit_scale, optional_positive(f, a + "logit_scale", 1.0f));
  PLUMB_ASSIGN_OR_RETURN(hp.embd_scale, optional_positive(f, a + "embedding_scale", 1.0f));
  PLUMB_ASSIGN_OR_RETURN(hp.residual_scale, optional_positive(f, a + "residual_scale", 1.0f));
  if (f.find(a + "attention.scale") != nullptr) {
    PLUMB_ASSIGN_OR_RETURN(hp.attn_scale, optional_positive(f, a + "attention.scale", 0.0f));
  }
  if (f.find(a + "rope.scaling.finetuned") != nullptr) {
    PLUMB_ASSIGN_OR_RETURN(bool rope, f.get_bool(a + "rope.scaling.finetuned"));
    if (!rope) hp.nope_period = 1;  // (l + 1) % 1 == 0: no layer rotates
  }
  return Status::Ok();
}

const ArchSpec& arch_granite() {
  static const ArchSpec spec{"granite", RopeType::kNorm, &granite_adjust, &load_llama_block};
  return spec;
}

}  // namespace plumb::model
