// K-quant blocks at the edges of their formats (every quant bit set or clear, extreme 6-bit and
// int8 scales) against activations at the edges of Q8_K (every value +-127): the products and
// sums the SIMD kernels keep in 16- and 32-bit integers are largest here, and random weights
// never get close.  Every level's matvec and matmul (gemm tiles, panels) against an exact
// double dot of the dequantized weights.
#include <cmath>
#include <cstring>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/dispatch.h"

namespace plumb::kernels {
namespace {

// x = +-1 quantizes exactly (+-127 with d = 1/127), so only the float rounding of the
// accumulation remains: relative to sum |w_i x_i|.
constexpr double kMaxRelError = 1e-5;
constexpr uint16_t kFp16One = 0x3C00;

// The byte patterns of one super-block: quant bytes (qs, qh, ql) and scale bytes.
struct Pattern {
  uint8_t quant;
  uint8_t scale;
};
constexpr Pattern kPatterns[] = {{0xFF, 0xFF}, {0x00, 0xFF}, {0xFF, 0x80}, {0x00, 0x80}, {0xFF, 0x7F}, {0x00, 0x7F}};

std::vector<uint8_t> extreme_row(TensorType type, int64_t n, Pattern p) {
  std::vector<uint8_t> row(row_size(type, n));
  const int64_t nb = n / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    if (type == TensorType::kQ6_K) {
      block_q6_K b;
      std::memset(b.ql, p.quant, sizeof b.ql);
      std::memset(b.qh, p.quant, sizeof b.qh);
      std::memset(b.scales, p.scale, sizeof b.scales);
      b.d = kFp16One;
      std::memcpy(row.data() + i * sizeof b, &b, sizeof b);
    } else if (type == TensorType::kQ5_K) {
      block_q5_K b;
      b.d = b.dmin = kFp16One;
      std::memset(b.scales, p.scale, sizeof b.scales);
      std::memset(b.qh, p.quant, sizeof b.qh);
      std::memset(b.qs, p.quant, sizeof b.qs);
      std::memcpy(row.data() + i * sizeof b, &b, sizeof b);
    } else {
      block_q4_K b;
      b.d = b.dmin = kFp16One;
      std::memset(b.scales, p.scale, sizeof b.scales);
      std::memset(b.qs, p.quant, sizeof b.qs);
      std::memcpy(row.data() + i * sizeof b, &b, sizeof b);
    }
  }
  return row;
}

TEST(KQuantExtremes, EveryLevelMatchesExactDot) {
  // 17 rows: two panels / row tiles, the second with one row; 9 tokens: a full 8-token tile and
  // a single token; 1 token: the decode path.
  constexpr int64_t n_rows = 17, n_cols = 3 * kQK_K;
  std::vector<Isa> levels = {Isa::kScalar};
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512})
    if (isa_supported(isa)) levels.push_back(isa);
  ThreadPool pool(2);
  Scratch scratch;
  for (TensorType type : {TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K}) {
    const size_t rs = row_size(type, n_cols);
    std::vector<uint8_t> w;
    for (int64_t r = 0; r < n_rows; ++r) {
      const std::vector<uint8_t> row = extreme_row(type, n_cols, kPatterns[r % std::size(kPatterns)]);
      w.insert(w.end(), row.begin(), row.end());
    }
    std::vector<float> wf(n_rows * n_cols);
    for (int64_t r = 0; r < n_rows; ++r)
      kernel_table(Isa::kScalar).weights[static_cast<uint32_t>(type)].dequantize(w.data() + r * rs,
                                                                                   wf.data() + r * n_cols, n_cols);
    for (int64_t n_tokens : {1, 9}) {
      // Even tokens: every activation -1 (the largest sums); odd tokens: signs alternating per
      // element (the largest products of each sign next to each other).
      std::vector<float> x(n_cols * n_tokens);
      for (int64_t t = 0; t < n_tokens; ++t)
        for (int64_t k = 0; k < n_cols; ++k) x[t * n_cols + k] = t % 2 == 0 || k % 2 == 0 ? -1.0f : 1.0f;
      for (Isa isa : levels) {
        std::vector<float> y(n_rows * n_tokens);
        matmul_with(kernel_table(isa), type, w.data(), n_rows, n_cols, x.data(), n_tokens, y.data(), pool, scratch);
        for (int64_t t = 0; t < n_tokens; ++t) {
          for (int64_t r = 0; r < n_rows; ++r) {
            double want = 0.0, mag = 0.0;
            for (int64_t k = 0; k < n_cols; ++k) {
              const double p = double{wf[r * n_cols + k]} * x[t * n_cols + k];
              want += p;
              mag += std::fabs(p);
            }
            ASSERT_GT(mag, 0.0);
            EXPECT_LE(std::fabs(y[t * n_rows + r] - want), kMaxRelError * mag)
                << isa_name(isa) << " " << tensor_type_name(type) << " tokens=" << n_tokens << " token " << t
                << " row " << r << ": got " << y[t * n_rows + r] << ", want " << want;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace plumb::kernels
