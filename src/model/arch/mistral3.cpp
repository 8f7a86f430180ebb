// mistral3: Ministral 3 (3B, 8B, 14B).  A llama block (RoPE in normal order, GQA, optional
// experts as Mixtral's), plus what llama.cpp's mistral3 graph adds: YaRN with the file's own
// beta_fast / beta_slow and log multiplier (mscale_all_dim), and Llama 4's attention
// temperature tuning, which scales q at position p by 1 + s ln(floor(p / n_ctx_orig) + 1) and
// so only changes anything past the original context.
#include <cmath>

#include "model/arch/arch.h"

namespace plumb::model {
namespace {

Result<float> optional_finite(const gguf::File& f, const std::string& key, float fallback) {
  if (f.find(key) == nullptr) return fallback;
  PLUMB_ASSIGN_OR_RETURN(double v, f.get_float(key));
  if (!std::isfinite(v)) return Status::Corrupt(f.path() + ": '" + key + "' must be a finite number");
  return static_cast<float>(v);
}

Status adjust(const gguf::File& f, ModelHParams& hp) {
  const std::string a = "mistral3.";
  PLUMB_ASSIGN_OR_RETURN(hp.attn_temp_scale, optional_finite(f, a + "attention.temperature_scale", 0.0f));
  PLUMB_ASSIGN_OR_RETURN(hp.yarn_beta_fast, optional_positive(f, a + "rope.scaling.yarn_beta_fast", 32.0f));
  PLUMB_ASSIGN_OR_RETURN(hp.yarn_beta_slow, optional_positive(f, a + "rope.scaling.yarn_beta_slow", 1.0f));
  PLUMB_ASSIGN_OR_RETURN(hp.yarn_log_mul, optional_finite(f, a + "rope.scaling.yarn_log_multiplier", 0.0f));
  return Status::Ok();
}

}  // namespace

const ArchSpec& arch_mistral3() {
  static const ArchSpec spec{"mistral3", RopeType::kNorm, &adjust, &load_llama_block};
  return spec;
}

}  // namespace plumb::model
