// The K-quant prompt-processing panels (AVX2 and AVX-512) at every SIMD level the CPU has,
// whatever PLUMB_ISA selects: against the same level's vec_dot on the same quantized activations,
// so only the float summation order differs, and bit-identical across thread counts.  Row counts
// leave either 8-row half of the last panel partly filled or empty; token counts leave every
// token tile size.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/dispatch.h"

namespace plumb::kernels {
namespace {

using test::magnitude;
using test::simd_levels;

// Relative to sum |w_i * x_i| of the row (as kMaxDotRelError in dot_test.cpp).
constexpr double kMaxRelError = 2e-5;
constexpr TensorType kTypes[] = {TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K};

TEST(KQuantPanels, MatchVecDotOfTheSameLevel) {
  if (simd_levels().empty()) GTEST_SKIP() << "no SIMD level on this CPU";
  ThreadPool pool(2);
  Scratch scratch;
  for (Isa isa : simd_levels()) {
    const KernelTable& table = kernel_table(isa);
    for (TensorType type : kTypes) {
      const WeightKernels& k = table.weights[static_cast<uint32_t>(type)];
      ASSERT_NE(k.matmul_panel, nullptr) << isa_name(isa) << " " << tensor_type_name(type);
      for (int64_t n_cols : {kQK_K, 5 * kQK_K}) {
        const size_t rs = row_size(type, n_cols);
        const size_t xs = row_size(k.vec_dot_type, n_cols);
        // 13: the second half has 5 rows; 29: a full panel, then that; 40: the second half empty.
        for (int64_t n_rows : {13, 29, 40}) {
          constexpr int64_t n_tokens = 11;  // 4 + 4 + 2 + 1
          const auto w = test::random_weights(type, n_rows, n_cols, static_cast<uint32_t>(n_rows + n_cols));
          const std::vector<float> x = test::random_floats(n_cols * n_tokens, 7, -2.0f, 2.0f);
          std::vector<float> y(n_rows * n_tokens, -1.0f);
          matmul_with(table, type, w.data(), n_rows, n_cols, x.data(), n_tokens, y.data(), pool, scratch);
          std::vector<uint8_t> xq(xs);
          for (int64_t t = 0; t < n_tokens; ++t) {
            k.quantize_x(x.data() + t * n_cols, xq.data(), n_cols);
            for (int64_t r = 0; r < n_rows; ++r) {
              const double want = k.vec_dot(n_cols, w.data() + r * rs, xq.data());
              const double mag = magnitude(type, w.data() + r * rs, x.data() + t * n_cols, n_cols);
              ASSERT_LE(std::fabs(y[t * n_rows + r] - want), kMaxRelError * mag)
                  << isa_name(isa) << " " << tensor_type_name(type) << " n=" << n_cols << " rows=" << n_rows
                  << " token " << t << " row " << r << ": got " << y[t * n_rows + r] << ", want " << want;
            }
          }
        }
      }
    }
  }
}

TEST(KQuantPanels, BitIdenticalAcrossThreadCounts) {
  constexpr int64_t n_rows = 45, n_cols = 2 * kQK_K, n_tokens = 9;
  ThreadPool p1(1), p2(2), p3(3);
  Scratch scratch;
  for (Isa isa : simd_levels()) {
    const KernelTable& table = kernel_table(isa);
    for (TensorType type : kTypes) {
      const auto w = test::random_weights(type, n_rows, n_cols, 3);
      const std::vector<float> x = test::random_floats(n_cols * n_tokens, 4);
      std::vector<float> a(n_rows * n_tokens), b(a.size()), c(a.size());
      matmul_with(table, type, w.data(), n_rows, n_cols, x.data(), n_tokens, a.data(), p1, scratch);
      matmul_with(table, type, w.data(), n_rows, n_cols, x.data(), n_tokens, b.data(), p2, scratch);
      matmul_with(table, type, w.data(), n_rows, n_cols, x.data(), n_tokens, c.data(), p3, scratch);
      const std::string what = std::string(isa_name(isa)) + " " + std::string(tensor_type_name(type));
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << what << ": 1 vs 2 threads";
      EXPECT_EQ(std::memcmp(a.data(), c.data(), a.size() * 4), 0) << what << ": 1 vs 3 threads";
    }
  }
}

}  // namespace
}  // namespace plumb::kernels
