// llama: Llama 2/3.x, Mistral, Mixtral (a router and stacked experts in place of the FFN, see
// load_moe_ffn), TinyLlama, SmolLM, CodeLlama.
//
// RoPE is ggml's "normal" mode (adjacent pairs): llama.cpp's converter permutes the Q and K
// weights of Hugging Face checkpoints into that order, and llama2.c / Meta checkpoints use it
// natively.
#include "model/arch/arch.h"

namespace plumb::model {

const ArchSpec& arch_llama() {
  static const ArchSpec spec{"llama", RopeType::kNorm, nullptr, &load_llama_block};
  return spec;
}

}  // namespace plumb::model
