// Reference quantizers against hand-computed blocks (ggml's Q8_0 / Q4_0 definitions).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "gguf/kquants.h"
#include "gguf/quantize.h"

namespace plumb::gguf {
namespace {

std::vector<uint8_t> bytes_of(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  return {b, b + n};
}

TEST(Quantize, Q8_0ExactScale) {
  // amax 63.5 -> d = 0.5 (fp16 0x3800), id = 2: q = roundf(2x), halves round away from zero.
  std::vector<float> x(32, 0.0f);
  x[0] = 63.5f;   // 127
  x[1] = -63.5f;  // -127
  x[2] = 0.25f;   // 0.5 -> 1
  x[3] = -0.25f;  // -0.5 -> -1
  x[4] = 0.74f;   // 1.48 -> 1
  x[5] = 10.0f;   // 20
  x[31] = -3.3f;  // -6.6 -> -7
  block_q8_0 b;
  quantize_row_q8_0(x.data(), &b, 32);
  std::vector<uint8_t> expect(34, 0);
  expect[0] = 0x00, expect[1] = 0x38;
  const int8_t q[] = {127, -127, 1, -1, 1, 20};
  for (int j = 0; j < 6; ++j) expect[2 + j] = static_cast<uint8_t>(q[j]);
  expect[2 + 31] = static_cast<uint8_t>(int8_t{-7});
  EXPECT_EQ(bytes_of(&b, 34), expect);

  std::vector<float> y(32);
  dequantize_row_q8_0(&b, y.data(), 32);
  EXPECT_EQ(y[0], 63.5f);
  EXPECT_EQ(y[2], 0.5f);
  EXPECT_EQ(y[31], -3.5f);
  EXPECT_EQ(y[6], 0.0f);
}

TEST(Quantize, Q8_0InexactScaleAndZeroBlock) {
  // amax 1 -> d = 1/127; fp16(1/127): exponent -7, mantissa round(0.00787 * 1024) = 8 -> 0x2008.
  std::vector<float> x(64, 0.0f);
  x[0] = 1.0f, x[1] = -1.0f, x[2] = 0.3f;  // 127, -127, 38.1 -> 38
  block_q8_0 b[2];
  quantize_row_q8_0(x.data(), b, 64);
  EXPECT_EQ(b[0].d, 0x2008);
  EXPECT_EQ(b[0].qs[0], 127);
  EXPECT_EQ(b[0].qs[1], -127);
  EXPECT_EQ(b[0].qs[2], 38);
  EXPECT_EQ(b[0].qs[3], 0);
  // An all-zero block: d = 0, id = 0 (no division by zero), all quants 0.
  EXPECT_EQ(bytes_of(&b[1], 34), std::vector<uint8_t>(34, 0));
}

TEST(Quantize, Q4_0NegativeMax) {
  // The largest magnitude is -4 -> d = -4 / -8 = 0.5 (0x3800), id = 2;
  // q = min(15, (int8)(2x + 8.5)), truncation toward zero.
  std::vector<float> x(32, 0.0f);  // zeros -> 8
  x[0] = -4.0f;    // 0.5 -> 0
  x[1] = 3.5f;     // 15.5 -> 15
  x[2] = 0.25f;    // 9.0 -> 9
  x[3] = -0.25f;   // 8.0 -> 8
  x[4] = 1.0f;     // 10.5 -> 10
  x[5] = -1.1f;    // 6.3 -> 6
  x[16] = 3.9f;    // 16.3 -> clamped 15
  x[17] = -3.0f;   // 2.5 -> 2
  block_q4_0 b;
  quantize_row_q4_0(x.data(), &b, 32);
  std::vector<int> q(32, 8);
  q[0] = 0, q[1] = 15, q[2] = 9, q[3] = 8, q[4] = 10, q[5] = 6, q[16] = 15, q[17] = 2;
  std::vector<uint8_t> expect = {0x00, 0x38};
  for (int j = 0; j < 16; ++j) expect.push_back(static_cast<uint8_t>(q[j] | (q[j + 16] << 4)));
  EXPECT_EQ(bytes_of(&b, 18), expect);

  std::vector<float> y(32);
  dequantize_row_q4_0(&b, y.data(), 32);
  EXPECT_EQ(y[0], -4.0f);   // (0 - 8) * 0.5
  EXPECT_EQ(y[1], 3.5f);    // (15 - 8) * 0.5
  EXPECT_EQ(y[16], 3.5f);
  EXPECT_EQ(y[17], -3.0f);
  EXPECT_EQ(y[30], 0.0f);
}

TEST(Quantize, Q4_0PositiveMaxFlipsTheScale) {
  // max +4 -> d = -0.5 (0xB800), id = -2: x = 4 -> 0.5 -> 0; x = -3.5 -> 15.5 -> 15.
  std::vector<float> x(32, 0.0f);
  x[0] = 4.0f;
  x[1] = -3.5f;
  block_q4_0 b;
  quantize_row_q4_0(x.data(), &b, 32);
  EXPECT_EQ(b.d, 0xB800);
  EXPECT_EQ(b.qs[0], 0x80);  // element 0 -> 0, element 16 -> 8
  EXPECT_EQ(b.qs[1], 0x8F);
  EXPECT_EQ(b.qs[2], 0x88);
}

TEST(Quantize, HalfFormats) {
  const float x[] = {1.0f, -2.0f, 65504.0f, 1e-8f, 0.1f, 5.9604645e-8f};
  uint16_t h[6];
  quantize_row_f16(x, h, 6);
  EXPECT_EQ(h[0], 0x3C00);
  EXPECT_EQ(h[1], 0xC000);
  EXPECT_EQ(h[2], 0x7BFF);
  EXPECT_EQ(h[3], 0x0000);  // below half the smallest subnormal
  EXPECT_EQ(h[4], 0x2E66);
  EXPECT_EQ(h[5], 0x0001);  // 2^-24, the smallest subnormal
  const float bx[] = {1.0f, 0.1f, -2.5f};
  uint16_t b[3];
  quantize_row_bf16(bx, b, 3);
  EXPECT_EQ(b[0], 0x3F80);
  EXPECT_EQ(b[1], 0x3DCD);  // 0x3DCCCCCD rounds up
  EXPECT_EQ(b[2], 0xC020);
  float back[3];
  dequantize_row_bf16(b, back, 3);
  EXPECT_EQ(back[2], -2.5f);
}

TEST(Quantize, GenericDispatchAndErrors) {
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[i] = std::sin(i * 0.5f);
  std::vector<uint8_t> a(2 * 34), b(2 * 34);
  ASSERT_TRUE(quantize_row(TensorType::kQ8_0, x.data(), a.data(), 64).ok());
  quantize_row_q8_0(x.data(), b.data(), 64);
  EXPECT_EQ(a, b);
  std::vector<float> y(64);
  ASSERT_TRUE(dequantize_row(TensorType::kQ8_0, a.data(), y.data(), 64).ok());
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(y[i], x[i], 1.0f / 127 / 2 * 1.01f) << i;  // half a step of d = amax/127
  ASSERT_TRUE(quantize_row(TensorType::kQ4_0, x.data(), a.data(), 64).ok());
  ASSERT_TRUE(dequantize_row(TensorType::kQ4_0, a.data(), y.data(), 64).ok());
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(y[i], x[i], 1.0f / 8 * 1.01f) << i;  // one step of d = amax/8
  EXPECT_EQ(quantize_row(TensorType::kQ8_0, x.data(), a.data(), 40).message(),
            "quantize: 40 elements is not a multiple of q8_0's block size 32");
  EXPECT_EQ(dequantize_row(TensorType::kQ4_1, a.data(), y.data(), 64).message(),
            "dequantize: tensor type q4_1 is not supported (expected f32, f16, bf16, q8_0, q4_0, q4_K, q5_K or q6_K)");
  EXPECT_EQ(quantize_row(TensorType::kQ4_K, x.data(), a.data(), 64).message(),
            "quantize: 64 elements is not a multiple of q4_K's block size 256");
  EXPECT_TRUE(can_convert(TensorType::kBF16));
  EXPECT_FALSE(can_convert(TensorType::kQ4_1));
}

// The K-quants go through the same entry points as their reference functions, and come back
// within the format's resolution (a sub-block step is at most range / levels of 32 values).
TEST(Quantize, KQuantsThroughGenericDispatch) {
  std::vector<float> x(512);
  for (int i = 0; i < 512; ++i) x[i] = std::sin(i * 0.37f) * (1.0f + (i % 7));
  struct Case {
    TensorType type;
    void (*ref)(const float*, void*, int64_t);
    float levels;
  };
  for (const Case& c : {Case{TensorType::kQ4_K, quantize_row_q4_K_ref, 15.0f}, Case{TensorType::kQ5_K, quantize_row_q5_K_ref, 31.0f},
                        Case{TensorType::kQ6_K, quantize_row_q6_K_ref, 63.0f}}) {
    const size_t bytes = 2 * tensor_type_traits(c.type)->type_size;
    std::vector<uint8_t> a(bytes), b(bytes);
    ASSERT_TRUE(quantize_row(c.type, x.data(), a.data(), 512).ok());
    c.ref(x.data(), b.data(), 512);
    EXPECT_EQ(a, b) << tensor_type_name(c.type);
    std::vector<float> y(512);
    ASSERT_TRUE(dequantize_row(c.type, a.data(), y.data(), 512).ok());
    for (int i = 0; i < 512; ++i) {
      // |x| <= 7 everywhere; one step of a 16- or 32-element sub-block spanning [-7, 7], plus the
      // rounding of the 6-bit sub-block scales (up to ~1/64 of the range).
      EXPECT_NEAR(y[i], x[i], 14.0f / c.levels + 14.0f / 64.0f) << tensor_type_name(c.type) << " " << i;
    }
  }
}

}  // namespace
}  // namespace plumb::gguf
