// cohere2: Cohere Command R7B and Command A.  command-r's block (LayerNorms, attention and FFN in
// parallel, logits times logit_scale) with a sliding window (attention.sliding_window, required)
// in three of every four layers (attention.sliding_window_pattern, default 4: layer l is global
// when l % 4 == 3).  Only the window layers rotate, with the model's RoPE base and scaling; the
// global layers use no RoPE, as llama.cpp's cohere2 graph runs them.
#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Status adjust(const gguf::File& f, ModelHParams& hp) {
  PLUMB_RETURN_IF_ERROR(command_r_adjust(f, hp));
  if (hp.sliding_window < 1)
    return Status::NotFound(f.path() + ": metadata key 'cohere2.attention.sliding_window' is missing (required for "
                            "cohere2)");
  PLUMB_ASSIGN_OR_RETURN(hp.swa_period, swa_period(f, "cohere2", 4));
  hp.nope_period = hp.swa_period;  // (l + 1) % P == 0: exactly the global layers
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_cohere2() {
  static const ArchSpec spec{"cohere2", RopeType::kNorm, &adjust, &command_r_load_layer};
  return spec;
}

}  // namespace plumb::model
