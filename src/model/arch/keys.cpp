// Optional hyper-parameter keys that several architecture files read the same way.
#include <cmath>

#include "model/arch/arch.h"

namespace plumb::model {

Result<float> optional_positive(const gguf::File& f, const std::string& key, float fallback) {
  if (f.find(key) == nullptr) return fallback;
  PLUMB_ASSIGN_OR_RETURN(double v, f.get_float(key));
  if (!(v > 0) || !std::isfinite(v))
    return Status::Corrupt(f.path() + ": metadata key '" + key + "' is " + std::to_string(v) +
                           ", expected a finite number > 0");
  return static_cast<float>(v);
}

Status require_experts(const gguf::File& f, const ModelHParams& hp) {
  if (hp.n_expert < 1 || hp.n_expert_used < 1)
    return Status::NotFound(f.path() + ": '" + hp.arch + ".expert_count' and '" + hp.arch +
                            ".expert_used_count' must be > 0");
  return Status::Ok();
}

Result<int64_t> swa_period(const gguf::File& f, const std::string& arch, int64_t fallback) {
  const std::string key = arch + ".attention.sliding_window_pattern";
  const gguf::Value* v = f.find(key);
  if (v == nullptr) return fallback;
  if (v->type == gguf::ValueType::kArray)
    return Status::Unsupported(f.path() + ": '" + key + "' is a per-layer array; plumb reads the period form (one "
                                          "integer)");
  PLUMB_ASSIGN_OR_RETURN(int64_t p, f.get_int(key));
  if (p < 0) return Status::Corrupt(f.path() + ": metadata key '" + key + "' is negative");
  return p;
}

}  // namespace plumb::model
