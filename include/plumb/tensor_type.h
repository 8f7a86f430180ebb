// plumb/tensor_type.h — every ggml tensor type, known by its GGUF id.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace plumb {

// Values are the ggml type ids stored in GGUF files.
enum class TensorType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kIQ2_XXS = 16, kIQ2_XS = 17, kIQ3_XXS = 18, kIQ1_S = 19, kIQ4_NL = 20, kIQ3_S = 21, kIQ2_S = 22,
  kIQ4_XS = 23, kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kIQ1_M = 29, kBF16 = 30,
  kTQ1_0 = 34, kTQ2_0 = 35, kMXFP4 = 39,
};

struct TensorTypeTraits {
  std::string_view name;  // "q4_0", as ggml spells it
  uint32_t block_size;    // elements per block
  uint32_t type_size;     // bytes per block
};

// Traits of a known type id, or nullopt for an id ggml does not define (ids 4, 5 and
// 31–33 were removed from ggml).  Known but uncomputable types still have traits.
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t id);
inline std::optional<TensorTypeTraits> tensor_type_traits(TensorType t) {
  return tensor_type_traits(static_cast<uint32_t>(t));
}
// "q4_0"; "type#N" for unknown ids.
std::string_view tensor_type_name(TensorType t);
// Parses "f16", "Q8_0", ... (case-insensitive).
std::optional<TensorType> tensor_type_from_name(std::string_view name);

}  // namespace plumb
