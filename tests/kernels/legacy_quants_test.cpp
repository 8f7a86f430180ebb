// Q4_1, Q5_0 and Q5_1 at every ISA level: activation quantization identical to the scalar one,
// and matvec / matmul against an exact double-precision dot of the dequantized weights and
// activations, on weights with a large common offset (where q4_1 / q5_1's min term dominates).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/quantize.h"
#include "kernel_test_util.h"
#include "kernels/dispatch.h"

namespace plumb::kernels {
namespace {

const TensorType kLegacyTypes[] = {TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1};

std::vector<Isa> all_levels() {
  std::vector<Isa> out = {Isa::kScalar};
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

// Every level's quantize_x for these types writes exactly the scalar reference's bytes, ties
// (which roundf rounds away from zero) included: amax 127 gives d = 1, so x = k + 0.5 is a tie.
TEST(LegacyQuants, ActivationQuantizationIsBitIdenticalToScalar) {
  std::vector<float> x = test::random_floats(32 * 40, 7, -3.0f, 3.0f);
  for (int j = 0; j < 32; ++j) x[j] = j == 0 ? 127.0f : static_cast<float>(j - 16) + 0.5f;
  for (int j = 32; j < 64; ++j) x[j] = j == 32 ? -127.0f : -(static_cast<float>(j - 48) + 0.5f);
  for (int j = 64; j < 96; ++j) x[j] = 0.0f;  // d = 0: all quants 0
  std::vector<uint8_t> want(40 * sizeof(gguf::block_q8_0));
  gguf::quantize_row_q8_0(x.data(), want.data(), static_cast<int64_t>(x.size()));
  for (Isa isa : all_levels()) {
    for (TensorType t : kLegacyTypes) {
      const WeightKernels& k = kernel_table(isa).weights[static_cast<uint32_t>(t)];
      ASSERT_EQ(k.vec_dot_type, TensorType::kQ8_0);
      std::vector<uint8_t> got(want.size(), 0xAA);
      k.quantize_x(x.data(), got.data(), static_cast<int64_t>(x.size()));
      EXPECT_EQ(got, want) << isa_name(isa) << " " << tensor_type_name(t);
    }
  }
  // The ties themselves: 0.5 -> 1, -0.5 -> -1, 1.5 -> 2 (block 0 element 16 is 0.5).
  const auto* b = reinterpret_cast<const gguf::block_q8_0*>(want.data());
  EXPECT_EQ(b[0].qs[16], 1);
  EXPECT_EQ(b[0].qs[17], 2);
  EXPECT_EQ(b[1].qs[16], -1);
}

// n activations as the kernels see them: quantized to Q8_0 and back.
std::vector<float> as_q8_0(const float* x, int64_t n) {
  std::vector<uint8_t> xq(row_size(TensorType::kQ8_0, n));
  gguf::quantize_row_q8_0(x, xq.data(), n);
  std::vector<float> xdq(static_cast<size_t>(n));
  gguf::dequantize_row_q8_0(xq.data(), xdq.data(), n);
  return xdq;
}

// sum_i w_i * a_i in double over the dequantized weights and Q8_0 activations.
double exact_dot(TensorType t, const uint8_t* row, const std::vector<float>& xdq, int64_t n, double* magnitude) {
  std::vector<float> w(static_cast<size_t>(n));
  EXPECT_TRUE(gguf::dequantize_row(t, row, w.data(), n).ok());
  double s = 0.0, m = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    s += double{w[i]} * xdq[i];
    m += std::fabs(double{w[i]} * xdq[i]);
  }
  *magnitude = m;
  return s;
}

// Weights 3 + U(-1, 1) (every block's min near 2, so the min term carries most of each dot),
// block counts with every tail (1, 3, 8, 9, 15, 16 and 64 blocks), decode and prompt shapes.
TEST(LegacyQuants, OffsetWeightsMatchExactDotAtEveryLevel) {
  // Same quantized operands, float summation: relative to sum |w_i * a_i|.
  constexpr double kMaxRelError = 2e-5;
  ThreadPool pool(2);
  Scratch scratch;
  for (Isa isa : all_levels()) {
    const KernelTable& table = kernel_table(isa);
    for (TensorType t : kLegacyTypes) {
      for (int64_t nb : {1, 3, 8, 9, 15, 16, 64}) {
        const int64_t n_cols = 32 * nb, n_rows = 9;
        std::vector<float> wf = test::random_floats(static_cast<size_t>(n_rows * n_cols), static_cast<uint32_t>(nb));
        for (float& v : wf) v += 3.0f;
        const size_t rs = row_size(t, n_cols);
        std::vector<uint8_t> w(rs * n_rows);
        for (int64_t r = 0; r < n_rows; ++r)
          ASSERT_TRUE(gguf::quantize_row(t, wf.data() + r * n_cols, w.data() + r * rs, n_cols).ok());
        for (int64_t n_tokens : {1, 5}) {
          const std::vector<float> x =
              test::random_floats(static_cast<size_t>(n_cols * n_tokens), static_cast<uint32_t>(nb + 100), -2.0f, 2.0f);
          std::vector<float> y(static_cast<size_t>(n_rows * n_tokens));
          matmul_with(table, t, w.data(), n_rows, n_cols, x.data(), n_tokens, y.data(), pool, scratch);
          for (int64_t tok = 0; tok < n_tokens; ++tok) {
            const std::vector<float> xdq = as_q8_0(x.data() + tok * n_cols, n_cols);
            for (int64_t r = 0; r < n_rows; ++r) {
              double mag = 0.0;
              const double want = exact_dot(t, w.data() + r * rs, xdq, n_cols, &mag);
              ASSERT_LE(std::fabs(y[tok * n_rows + r] - want), kMaxRelError * mag)
                  << isa_name(isa) << " " << tensor_type_name(t) << " blocks=" << nb << " tokens=" << n_tokens
                  << " token " << tok << " row " << r << " got " << y[tok * n_rows + r] << " want " << want;
            }
          }
        }
      }
    }
  }
}

// q4_0 and q8_0 blocks at the edges of their formats (every nibble 15 or 0, int8 weights at
// +-127 and -128) against activations at +-127 (x = +-1), all of one sign or
// alternating: the sums the SIMD kernels keep in 16-bit lanes (VPMADDUBSW pairs, and at the AVX2
// level q4_0's VPHADDW rounds over a block's half) are largest here.  Decode and prompt shapes at
// every level against an exact double dot (of the activations as quantized: +-127 times the
// f16 scale nearest 1/127).
TEST(LegacyQuants, Q4_0AndQ8_0AtTheEdgesMatchExactDotAtEveryLevel) {
  constexpr double kMaxRelError = 1e-5;
  constexpr uint16_t kFp16One = 0x3C00;
  ThreadPool pool(2);
  Scratch scratch;
  struct Case {
    TensorType type;
    uint8_t byte;  // every quant byte of every block
  };
  const Case cases[] = {{TensorType::kQ4_0, 0xFF}, {TensorType::kQ4_0, 0x00}, {TensorType::kQ4_0, 0x0F},
                        {TensorType::kQ4_0, 0xF0}, {TensorType::kQ8_0, 0x7F}, {TensorType::kQ8_0, 0x81},
                        {TensorType::kQ8_0, 0x80}};
  for (Isa isa : all_levels()) {
    const KernelTable& table = kernel_table(isa);
    for (const Case& c : cases) {
      const size_t block_bytes = c.type == TensorType::kQ4_0 ? sizeof(gguf::block_q4_0) : sizeof(gguf::block_q8_0);
      for (int64_t nb : {8, 9, 64}) {
        const int64_t n_cols = 32 * nb, n_rows = 5;
        const size_t rs = row_size(c.type, n_cols);
        std::vector<uint8_t> w(rs * n_rows, c.byte);
        for (size_t b = 0; b < w.size(); b += block_bytes) std::memcpy(w.data() + b, &kFp16One, 2);
        for (int sign_pattern = 0; sign_pattern < 3; ++sign_pattern) {
          for (int64_t n_tokens : {1, 5}) {
            std::vector<float> x(static_cast<size_t>(n_cols * n_tokens));
            for (size_t i = 0; i < x.size(); ++i)
              x[i] = sign_pattern == 0 ? 1.0f : sign_pattern == 1 ? -1.0f : (i % 2 == 0 ? 1.0f : -1.0f);
            std::vector<float> y(static_cast<size_t>(n_rows * n_tokens));
            matmul_with(table, c.type, w.data(), n_rows, n_cols, x.data(), n_tokens, y.data(), pool, scratch);
            for (int64_t tok = 0; tok < n_tokens; ++tok) {
              const std::vector<float> xdq = as_q8_0(x.data() + tok * n_cols, n_cols);
              for (int64_t r = 0; r < n_rows; ++r) {
                double mag = 0.0;
                const double want = exact_dot(c.type, w.data() + r * rs, xdq, n_cols, &mag);
                ASSERT_LE(std::fabs(y[tok * n_rows + r] - want), kMaxRelError * mag + 1e-6)
                    << isa_name(isa) << " " << tensor_type_name(c.type) << " byte " << int{c.byte} << " signs "
                    << sign_pattern << " blocks=" << nb << " tokens=" << n_tokens << " row " << r << " got "
                    << y[tok * n_rows + r] << " want " << want;
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace plumb::kernels
