// Shared fixtures for the kernels tests: random data, weight quantization for every type.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/quantize.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/kquants.h"

namespace plumb::kernels::test {

inline const std::vector<TensorType>& computable_types() {
  static const std::vector<TensorType> types = {
      TensorType::kF32,  TensorType::kF16,  TensorType::kBF16, TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_1,
      TensorType::kQ5_0, TensorType::kQ5_1, TensorType::kMXFP4, TensorType::kQ4_K, TensorType::kQ5_K,
      TensorType::kQ6_K};
  return types;
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Converts a row of floats to `type` with the reference quantizers.
inline void quantize_ref(TensorType type, const float* x, void* y, int64_t n) {
  switch (type) {
    case TensorType::kQ4_K:
      quantize_row_q4_K_ref(x, y, n);
      return;
    case TensorType::kQ5_K:
      quantize_row_q5_K_ref(x, y, n);
      return;
    case TensorType::kQ6_K:
      quantize_row_q6_K_ref(x, y, n);
      return;
    default: {
      const Status s = gguf::quantize_row(type, x, y, n);
      ASSERT_TRUE(s.ok()) << s.to_string();
    }
  }
}

// An n_rows x n_cols weight matrix of `type` from uniform random values.
inline std::vector<uint8_t> random_weights(TensorType type, int64_t n_rows, int64_t n_cols, uint32_t seed) {
  const std::vector<float> f = random_floats(static_cast<size_t>(n_rows * n_cols), seed);
  const size_t rs = row_size(type, n_cols);
  std::vector<uint8_t> w(rs * static_cast<size_t>(n_rows));
  for (int64_t r = 0; r < n_rows; ++r) quantize_ref(type, f.data() + r * n_cols, w.data() + r * rs, n_cols);
  return w;
}

inline int64_t block_size(TensorType type) { return tensor_type_traits(type)->block_size; }

// The SIMD levels this CPU has (AVX2, AVX-512), whatever PLUMB_ISA selects.
inline std::vector<Isa> simd_levels() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

// sum |w_i x_i| over one row, from the dequantized weights: what the dot-product tolerances are
// relative to.
inline double magnitude(TensorType type, const uint8_t* w_row, const float* x, int64_t n) {
  std::vector<float> wf(n);
  kernel_table(Isa::kScalar).weights[static_cast<uint32_t>(type)].dequantize(w_row, wf.data(), n);
  double m = 0.0;
  for (int64_t i = 0; i < n; ++i) m += std::fabs(double{wf[i]} * x[i]);
  return m;
}

}  // namespace plumb::kernels::test
