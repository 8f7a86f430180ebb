#include "model/hparams.h"

#include <cmath>

namespace plumb::model {
namespace {

class Keys {
 public:
  Keys(const gguf::File& f, std::string arch) : f_(f), arch_(std::move(arch)) {}

  Result<int64_t> required_int(const std::string& suffix, int64_t min_value) const {
    const std::string key = arch_ + "." + suffix;
    if (f_.find(key) == nullptr)
      return Status::NotFound(f_.path() + ": metadata key '" + key + "' is missing (required for architecture " +
                              arch_ + ")");
    PLUMB_ASSIGN_OR_RETURN(int64_t v, f_.get_int(key));
    if (v < min_value)
      return Status::Corrupt(f_.path() + ": metadata key '" + key + "' is " + std::to_string(v) + ", expected >= " +
                             std::to_string(min_value));
    return v;
  }
  Result<int64_t> optional_int(const std::string& suffix, int64_t fallback, int64_t min_value) const {
    if (f_.find(arch_ + "." + suffix) == nullptr) return fallback;
    return required_int(suffix, min_value);
  }
  Result<double> optional_float(const std::string& suffix, double fallback) const {
    const std::string key = arch_ + "." + suffix;
    if (f_.find(key) == nullptr) return fallback;
    PLUMB_ASSIGN_OR_RETURN(double v, f_.get_float(key));
    if (!std::isfinite(v)) return Status::Corrupt(f_.path() + ": metadata key '" + key + "' is not a finite number");
    return v;
  }
  std::string key(const std::string& suffix) const { return arch_ + "." + suffix; }

 private:
  const gguf::File& f_;
  std::string arch_;
};

// Reasonable upper bounds so that a corrupt header cannot make us allocate terabytes.
constexpr int64_t kMaxDim = 1 << 20;

}  // namespace

Result<ModelHParams> read_hparams(const gguf::File& f, const ArchSpec& arch) {
  ModelHParams hp;
  hp.arch = std::string(arch.name);
  hp.rope_type = arch.rope_type;
  if (f.find("general.name") != nullptr) hp.name = f.get_string("general.name").value_or("");
  Keys k(f, hp.arch);
  PLUMB_ASSIGN_OR_RETURN(hp.n_ctx_train, k.required_int("context_length", 1));
  PLUMB_ASSIGN_OR_RETURN(hp.n_embd, k.required_int("embedding_length", 1));
  PLUMB_ASSIGN_OR_RETURN(hp.n_layer, k.required_int("block_count", 1));
  PLUMB_ASSIGN_OR_RETURN(hp.n_ff, k.required_int("feed_forward_length", 1));
  PLUMB_ASSIGN_OR_RETURN(hp.n_head, k.required_int("attention.head_count", 1));
  PLUMB_ASSIGN_OR_RETURN(hp.n_head_kv, k.optional_int("attention.head_count_kv", hp.n_head, 1));
  for (auto [v, name] : {std::pair{hp.n_embd, "embedding_length"}, {hp.n_ff, "feed_forward_length"},
                         {hp.n_head, "attention.head_count"}, {hp.n_layer, "block_count"}})
    if (v > kMaxDim)
      return Status::Corrupt(f.path() + ": metadata key '" + k.key(name) + "' is " + std::to_string(v) +
                             ", larger than plumb accepts (" + std::to_string(kMaxDim) + ")");
  if (hp.n_head % hp.n_head_kv != 0)
    return Status::Corrupt(f.path() + ": '" + k.key("attention.head_count") + "' (" + std::to_string(hp.n_head) +
                           ") is not a multiple of '" + k.key("attention.head_count_kv") + "' (" +
                           std::to_string(hp.n_head_kv) + ")");
  const int64_t default_head_dim = hp.n_embd / hp.n_head;
  PLUMB_ASSIGN_OR_RETURN(hp.head_dim, k.optional_int("attention.key_length", default_head_dim, 1));
  PLUMB_ASSIGN_OR_RETURN(int64_t value_length, k.optional_int("attention.value_length", hp.head_dim, 1));
  if (value_length != hp.head_dim)
    return Status::Unsupported(f.path() + ": '" + k.key("attention.value_length") + "' (" +
                               std::to_string(value_length) + ") differs from the key length (" +
                               std::to_string(hp.head_dim) + "), which plumb does not support");
  if (hp.head_dim < 2 || hp.head_dim > 4096 || hp.head_dim % 2 != 0)
    return Status::Corrupt(f.path() + ": head dimension " + std::to_string(hp.head_dim) +
                           " (embedding_length / attention.head_count, or attention.key_length) is not an even number "
                           "in [2, 4096]");
  PLUMB_ASSIGN_OR_RETURN(hp.n_rot, k.optional_int("rope.dimension_count", hp.head_dim, 2));
  if (hp.n_rot > hp.head_dim || hp.n_rot % 2 != 0)
    return Status::Corrupt(f.path() + ": '" + k.key("rope.dimension_count") + "' is " + std::to_string(hp.n_rot) +
                           ", expected an even number <= the head dimension " + std::to_string(hp.head_dim));
  PLUMB_ASSIGN_OR_RETURN(double eps, k.optional_float("attention.layer_norm_rms_epsilon", 1e-5));
  if (!(eps > 0)) return Status::Corrupt(f.path() + ": '" + k.key("attention.layer_norm_rms_epsilon") + "' must be > 0");
  hp.rms_eps = static_cast<float>(eps);
  PLUMB_ASSIGN_OR_RETURN(double base, k.optional_float("rope.freq_base", 10000.0));
  if (!(base > 0)) return Status::Corrupt(f.path() + ": '" + k.key("rope.freq_base") + "' must be > 0");
  hp.rope_freq_base = static_cast<float>(base);

  // RoPE scaling, read as llama.cpp reads it: a factor without a type is linear.  none, linear
  // and yarn are computed; other types are refused rather than silently computed wrong.
  std::string scaling;
  if (f.find(k.key("rope.scaling.type")) != nullptr) {
    PLUMB_ASSIGN_OR_RETURN(scaling, f.get_string(k.key("rope.scaling.type")));
  }
  PLUMB_ASSIGN_OR_RETURN(double factor, k.optional_float("rope.scaling.factor", 0.0));
  if (factor == 0.0) {  // older files: <arch>.rope.scale_linear
    PLUMB_ASSIGN_OR_RETURN(factor, k.optional_float("rope.scale_linear", 0.0));
  }
  if (scaling.empty()) scaling = factor != 0.0 ? "linear" : "none";
  if (scaling == "linear" || scaling == "yarn") {
    if (!(factor > 0) || (scaling == "yarn" && factor < 1))
      return Status::Corrupt(f.path() + ": " + scaling + " RoPE scaling needs '" + k.key("rope.scaling.factor") +
                             "' " + (scaling == "yarn" ? ">= 1" : "> 0") + ", found " + std::to_string(factor));
    hp.rope_freq_scale = static_cast<float>(1.0 / factor);
    // YaRN's beta and log-multiplier keys are read only by the architectures whose llama.cpp
    // graph reads them (mistral3's adjust_hparams); elsewhere llama.cpp ignores them, and so
    // does plumb.
    hp.rope_yarn = scaling == "yarn";
  } else if (scaling != "none") {
    return Status::Unsupported(f.path() + ": '" + k.key("rope.scaling.type") + "' is '" + scaling +
                               "'; plumb supports none, linear and yarn RoPE scaling");
  }
  PLUMB_ASSIGN_OR_RETURN(hp.sliding_window, k.optional_int("attention.sliding_window", 0, 0));
  PLUMB_ASSIGN_OR_RETURN(hp.n_expert, k.optional_int("expert_count", 0, 0));
  PLUMB_ASSIGN_OR_RETURN(hp.n_expert_used, k.optional_int("expert_used_count", 0, 0));
  PLUMB_ASSIGN_OR_RETURN(hp.n_ff_exp, k.optional_int("expert_feed_forward_length", hp.n_ff, 1));
  PLUMB_ASSIGN_OR_RETURN(hp.n_ff_shexp, k.optional_int("expert_shared_feed_forward_length", hp.n_ff, 1));
  for (auto [v, name] : {std::pair{hp.n_ff_exp, "expert_feed_forward_length"},
                         {hp.n_ff_shexp, "expert_shared_feed_forward_length"}})
    if (v > kMaxDim)
      return Status::Corrupt(f.path() + ": metadata key '" + k.key(name) + "' is " + std::to_string(v) +
                             ", larger than plumb accepts (" + std::to_string(kMaxDim) + ")");
  if (hp.n_expert > 1024 || hp.n_expert_used > hp.n_expert)
    return Status::Corrupt(f.path() + ": '" + k.key("expert_used_count") + "' (" + std::to_string(hp.n_expert_used) +
                           ") must be at most '" + k.key("expert_count") + "' (" + std::to_string(hp.n_expert) +
                           "), itself at most 1024");
  PLUMB_ASSIGN_OR_RETURN(hp.n_ctx_orig, k.optional_int("rope.scaling.original_context_length", hp.n_ctx_train, 1));
  PLUMB_ASSIGN_OR_RETURN(double attn_factor, k.optional_float("rope.scaling.attn_factor", 1.0));
  if (!(attn_factor > 0))
    return Status::Corrupt(f.path() + ": '" + k.key("rope.scaling.attn_factor") + "' must be > 0");
  hp.rope_attn_factor = static_cast<float>(attn_factor);

  if (arch.adjust_hparams != nullptr) PLUMB_RETURN_IF_ERROR(arch.adjust_hparams(f, hp));
  return hp;
}

}  // namespace plumb::model
