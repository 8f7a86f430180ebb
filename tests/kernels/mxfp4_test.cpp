// MXFP4 weights at every ISA level, decode (one token: matvec_rows) and prompt shapes (several
// tokens: matmul panels), 1 and 2 threads, against a dot computed here in double from the
// format's definition, never from the code under test: at the edges of the format (every nibble,
// exponents from the subnormal halved scales to the top, activations at +-127) and on random
// weights, with row lengths that leave every kind of tail of the kernels' groups of 8 blocks
// (gpt-oss's 2880 is 90 blocks: 11 groups and 2 blocks).
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "gguf/quantize.h"
#include "kernel_test_util.h"
#include "kernels/dispatch.h"

namespace plumb::kernels {
namespace {

// Every level's table, and the AVX-512 one without its VBMI decode kernel when the CPU has it.
struct NamedTable {
  std::string name;
  KernelTable table;
};
std::vector<NamedTable> all_tables() {
  std::vector<NamedTable> out = {{"scalar", kernel_table(Isa::kScalar)}};
  for (Isa isa : test::simd_levels()) out.push_back({std::string(isa_name(isa)), kernel_table(isa)});
  if (isa_supported(Isa::kAvx512) && cpu_features().avx512vbmi) {
    KernelTable t = kernel_table(Isa::kAvx512);
    install_avx512_mxfp4(t, /*use_vbmi=*/false);
    out.push_back({"avx512 without vbmi", t});
  }
  return out;
}

// An E2M1 element from its definition (OCP Microscaling Formats v1.0): bit 3 the sign, bits 2-1
// the exponent (bias 1), bit 0 the mantissa; exponent 0 is subnormal (0 or 0.5).  MXFP4 scales
// it by the block's 2^(e - 127).
double mxfp4_value(int e, int nibble) {
  const int exponent = (nibble >> 1) & 3, mantissa = nibble & 1;
  const double magnitude = exponent == 0 ? 0.5 * mantissa : std::ldexp(1.0 + 0.5 * mantissa, exponent - 1);
  return ((nibble & 8) != 0 ? -magnitude : magnitude) * std::ldexp(1.0, e - 127);
}

// The n_rows x n_cols matrix of MXFP4 rows (blocks of 17 bytes: e, then 16 bytes with element
// j in the low nibble of byte j and element j + 16 in the high nibble) as doubles.
std::vector<double> matrix_values(const std::vector<uint8_t>& w, int64_t n_rows, int64_t n_cols) {
  std::vector<double> v(static_cast<size_t>(n_rows * n_cols));
  for (int64_t i = 0; i < n_rows * n_cols; ++i) {
    const uint8_t* block = w.data() + (i / 32) * 17;
    const int j = static_cast<int>(i % 32);
    v[i] = mxfp4_value(block[0], j < 16 ? block[1 + j] & 0x0F : block[1 + j - 16] >> 4);
  }
  return v;
}

// n activations as a level's kernels see them: quantized to Q8_0 by its quantize_x and back.
std::vector<float> as_q8_0(QuantizeRowFn quantize, const float* x, int64_t n) {
  std::vector<uint8_t> xq(row_size(TensorType::kQ8_0, n));
  quantize(x, xq.data(), n);
  std::vector<float> back(static_cast<size_t>(n));
  gguf::dequantize_row_q8_0(xq.data(), back.data(), n);
  return back;
}

// want[t * n_rows + r] = sum_i w_i * a_i over row r and token t's activations a in double, and
// mag the same over |w_i * a_i|.
void compute_exact_dots(const std::vector<double>& values, int64_t n_rows, int64_t n_cols, const std::vector<float>& a,
                        int64_t n_tokens, std::vector<double>& want, std::vector<double>& mag) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t r = 0; r < n_rows; ++r) {
      double s = 0.0, m = 0.0;
      for (int64_t i = 0; i < n_cols; ++i) {
        const double p = values[r * n_cols + i] * a[t * n_cols + i];
        s += p;
        m += std::fabs(p);
      }
      want[t * n_rows + r] = s;
      mag[t * n_rows + r] = m;
    }
  }
}

// Runs matmul (matvec for one token) at every level with 1 and 2 threads and checks every
// result against sum_i w_i * a_i in double over the weights' values and the activations as that
// level quantizes them, within max_rel_error times sum_i |w_i * a_i|.
void expect_exact_at_every_level(const std::vector<uint8_t>& w, const std::vector<double>& values, int64_t n_rows,
                                 int64_t n_cols, const std::vector<float>& x, int64_t n_tokens, double max_rel_error,
                                 const std::string& what) {
  static const std::vector<NamedTable> tables = all_tables();
  Scratch scratch;
  // The activations as the last level quantized them, and the exact dots over them (recomputed
  // only when a level quantizes differently, which ties can make the SIMD levels do).
  std::vector<float> a;
  std::vector<double> want(static_cast<size_t>(n_rows * n_tokens)), mag(want.size());
  for (const NamedTable& nt : tables) {
    const QuantizeRowFn quantize = nt.table.weights[static_cast<uint32_t>(TensorType::kMXFP4)].quantize_x;
    std::vector<float> level_a = as_q8_0(quantize, x.data(), n_cols * n_tokens);
    if (level_a != a) {
      a = std::move(level_a);
      compute_exact_dots(values, n_rows, n_cols, a, n_tokens, want, mag);
    }
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      std::vector<float> y(want.size(), -1.0f);
      matmul_with(nt.table, TensorType::kMXFP4, w.data(), n_rows, n_cols, x.data(), n_tokens, y.data(), pool,
                  scratch);
      for (size_t k = 0; k < y.size(); ++k)
        ASSERT_LE(std::fabs(y[k] - want[k]), max_rel_error * mag[k])
            << nt.name << " " << what << " cols=" << n_cols << " tokens=" << n_tokens << " threads=" << threads
            << " token " << k / n_rows << " row " << k % n_rows << ": got " << y[k] << " want " << want[k];
    }
  }
}

// Each level quantizes mxfp4's activations exactly as q4_0's, ties (amax 127: d = 1, x = k + 0.5)
// included: the scalar level as ggml's quantize_row_q8_0_ref (roundf), the SIMD levels as ggml's
// x86 quantize_row_q8_0, which rounds ties to even.
TEST(Mxfp4, ActivationsAreQuantizedAsForQ4_0) {
  std::vector<float> x = test::random_floats(32 * 40, 9, -3.0f, 3.0f);
  for (int j = 0; j < 32; ++j) x[j] = j == 0 ? 127.0f : static_cast<float>(j - 16) + 0.5f;
  for (const NamedTable& nt : all_tables()) {
    const WeightKernels& mx = nt.table.weights[static_cast<uint32_t>(TensorType::kMXFP4)];
    const WeightKernels& q4 = nt.table.weights[static_cast<uint32_t>(TensorType::kQ4_0)];
    ASSERT_EQ(mx.vec_dot_type, TensorType::kQ8_0) << nt.name;
    std::vector<uint8_t> want(40 * sizeof(gguf::block_q8_0)), got(want.size(), 0xAA);
    q4.quantize_x(x.data(), want.data(), static_cast<int64_t>(x.size()));
    mx.quantize_x(x.data(), got.data(), static_cast<int64_t>(x.size()));
    EXPECT_EQ(got, want) << nt.name;
  }
}

// Blocks at the edges: all nibbles 7 (+12) or 15 (-12), halves of each, or every nibble in every
// block (in an order that changes with the block and row); exponents e and e ^ 1 in turn (0/1,
// 2/3, 127/126, 200/201, 254/255), so that a kernel using one block's scale for another fails.
// Activations are +-127 times 2^(k - b % 3) in block b, which Q8_0 holds exactly (scale
// 2^(k - b % 3), quants +-127), all positive, all negative, alternating or in a pseudo-random
// pattern (so that blocks holding the same values still sum differently): every product of
// scales is then a power of two, the sums the kernels keep in 16 or 32 bits are at their
// largest, and the only rounding left is the float accumulation.  k = -22 at the top exponents
// keeps 90 or 128 blocks of 12 * 127 * 32 * 2^(127 + k) below FLT_MAX.
TEST(Mxfp4, EdgesMatchExactDotAtEveryLevel) {
  constexpr double kMaxRelError = 1e-5;
  constexpr int64_t kRows = 70;  // more than 64 rows: decoding with 2 threads splits them
  constexpr int kEvery = -1;     // pattern: every nibble in every block
  for (int pattern : {0x77, 0xFF, 0x7F, 0xF7, kEvery}) {
    for (int e0 : {0, 1, 2, 127, 200, 254}) {
      for (int64_t n_cols : {32, 96, 2880, 4096}) {
        const int64_t nb = n_cols / 32;
        const size_t rs = row_size(TensorType::kMXFP4, n_cols);
        std::vector<uint8_t> w(rs * kRows);
        for (int64_t r = 0; r < kRows; ++r) {
          for (int64_t b = 0; b < nb; ++b) {
            uint8_t* block = w.data() + r * rs + b * 17;
            block[0] = static_cast<uint8_t>(e0 ^ (b & 1));
            for (int j = 0; j < 16; ++j) {
              // Odd multipliers: each block holds all 16 values in both halves, in an order that
              // changes from block to block and row to row.
              const int lo = static_cast<int>((j * (2 * b + 1) + r) & 15);
              const int hi = static_cast<int>((j * (2 * r + 3) + 3 * b) & 15);
              block[1 + j] = pattern == kEvery ? static_cast<uint8_t>(lo | (hi << 4)) : static_cast<uint8_t>(pattern);
            }
          }
        }
        const std::vector<double> values = matrix_values(w, kRows, n_cols);
        const int k = e0 >= 254 ? -22 : 0;
        for (int signs = 0; signs < 4; ++signs) {
          for (int64_t n_tokens : {1, 9}) {
            std::vector<float> x(static_cast<size_t>(n_cols * n_tokens));
            for (int64_t t = 0; t < n_tokens; ++t) {
              for (int64_t i = 0; i < n_cols; ++i) {
                const uint32_t hash = static_cast<uint32_t>(i * 2654435761u + t * 40503u) >> 13;
                const bool negative = signs == 0 ? false : signs == 1 ? true : signs == 2 ? (i + t) % 2 == 1 : hash & 1;
                x[t * n_cols + i] = (negative ? -127.0f : 127.0f) * std::ldexp(1.0f, k - static_cast<int>(i / 32 % 3));
              }
            }
            ASSERT_EQ(as_q8_0(gguf::quantize_row_q8_0, x.data(), n_cols * n_tokens), x) << "not exact in Q8_0";
            expect_exact_at_every_level(w, values, kRows, n_cols, x, n_tokens, kMaxRelError,
                                        "pattern " + std::to_string(pattern) + " e " + std::to_string(e0) +
                                            " signs " + std::to_string(signs));
          }
        }
      }
    }
  }
}

// Weights quantized by the reference quantizer from random rows whose magnitude changes from
// block to block (so exponents vary along a row), random activations: the same quantized
// operands, float summation in a different order, relative to sum |w_i * a_i|.
TEST(Mxfp4, RandomWeightsMatchExactDotAtEveryLevel) {
  constexpr double kMaxRelError = 2e-5;
  constexpr int64_t kRows = 70;
  for (int64_t n_cols : {32, 64, 96, 256, 288, 2880, 4096}) {
    std::vector<float> wf = test::random_floats(static_cast<size_t>(kRows * n_cols), static_cast<uint32_t>(n_cols));
    for (size_t i = 0; i < wf.size(); ++i) wf[i] *= std::ldexp(1.0f, static_cast<int>((i / 32) % 9) - 4);
    const size_t rs = row_size(TensorType::kMXFP4, n_cols);
    std::vector<uint8_t> w(rs * kRows);
    gguf::quantize_row_mxfp4(wf.data(), w.data(), kRows * n_cols);
    const std::vector<double> values = matrix_values(w, kRows, n_cols);
    for (int64_t n_tokens : {1, 3, 9}) {
      const std::vector<float> x = test::random_floats(static_cast<size_t>(n_cols * n_tokens),
                                                       static_cast<uint32_t>(n_cols + n_tokens), -2.0f, 2.0f);
      expect_exact_at_every_level(w, values, kRows, n_cols, x, n_tokens, kMaxRelError, "random");
    }
  }
}

}  // namespace
}  // namespace plumb::kernels
