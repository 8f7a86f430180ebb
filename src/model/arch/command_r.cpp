// command-r: Cohere Command-R (35B, v01 and 08-2024) and Aya 23 / Aya Expanse.  A llama block
// (RoPE in normal order, GQA) with three differences, as llama.cpp's command-r graph has them:
// every norm is a LayerNorm without bias (eps from attention.layer_norm_epsilon); attention and
// FFN run in parallel on the same attn_norm output, with no ffn_norm; and the logits are
// multiplied by logit_scale.  The output projection is the token embedding.  Command R+ (64
// layers and more) adds LayerNorms of each head of q and k before RoPE, with one weight vector
// per head; llama.cpp reads those tensors only at 64 layers or more, so plumb does the same.
#include "model/arch/arch.h"

namespace plumb::model {

Status command_r_load_layer(TensorLoader& tl, const ModelHParams& hp, int layer, LayerWeights& w) {
  PLUMB_RETURN_IF_ERROR(load_attention(tl, hp, layer, w));
  if (hp.qk_norm_per_head) {
    PLUMB_ASSIGN_OR_RETURN(w.q_norm, tl.table(layer_tensor(layer, "attn_q_norm.weight"), hp.head_dim, hp.n_head));
    PLUMB_ASSIGN_OR_RETURN(w.k_norm, tl.table(layer_tensor(layer, "attn_k_norm.weight"), hp.head_dim, hp.n_head_kv));
  } else {
    // llama.cpp reads no such tensor here, and refuses a file with tensors it did not read.
    const std::string why = hp.arch == "command-r" ? "command-r files have q/k norms only with 64 layers or more "
                                                     "(Command R+); this one has " + std::to_string(hp.n_layer)
                                                   : hp.arch + " files have no q/k norms";
    for (const char* name : {"attn_q_norm.weight", "attn_k_norm.weight"})
      if (tl.has(layer_tensor(layer, name)))
        return Status::Unsupported(tl.file().path() + ": tensor '" + layer_tensor(layer, name) + "': " + why +
                                   ", and llama.cpp refuses such a file too");
  }
  const int64_t e = hp.n_embd;
  PLUMB_ASSIGN_OR_RETURN(w.ffn_gate, tl.matrix(layer_tensor(layer, "ffn_gate.weight"), e, hp.n_ff));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_up, tl.matrix(layer_tensor(layer, "ffn_up.weight"), e, hp.n_ff));
  PLUMB_ASSIGN_OR_RETURN(w.ffn_down, tl.matrix(layer_tensor(layer, "ffn_down.weight"), hp.n_ff, e));
  return Status::Ok();
}

Status command_r_adjust(const gguf::File& f, ModelHParams& hp) {
  const std::string eps_key = hp.arch + ".attention.layer_norm_epsilon";
  if (f.find(eps_key) == nullptr)
    return Status::NotFound(f.path() + ": metadata key '" + eps_key + "' is missing (required for " + hp.arch + ")");
  PLUMB_ASSIGN_OR_RETURN(hp.rms_eps, optional_positive(f, eps_key, 1e-5f));
  // llama.cpp multiplies by logit_scale when the key is there and not 0; plumb also needs it > 0
  // (a file with 0 or less is refused as corrupt).
  if (f.find(hp.arch + ".logit_scale") != nullptr) {
    PLUMB_ASSIGN_OR_RETURN(float scale, optional_positive(f, hp.arch + ".logit_scale", 1.0f));
    hp.logit_scale = 1.0f / scale;
  }
  hp.layer_norm = true;
  hp.parallel_blocks = true;
  hp.qk_norm_per_head = hp.arch == "command-r" && hp.n_layer >= 64;
  return Status::Ok();
}

const ArchSpec& arch_command_r() {
  static const ArchSpec spec{"command-r", RopeType::kNorm, &command_r_adjust, &command_r_load_layer};
  return spec;
}

}  // namespace plumb::model
