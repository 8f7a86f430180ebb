// Reference quantizers against hand-computed blocks (ggml's Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and
// MXFP4 definitions).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
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

TEST(Quantize, Q4_1MinAndRange) {
  // min -1, max 2 -> d = 3/15 = 0.2 (fp16 0x3266 = 1638/8192), m = -1 (0xBC00), id = 5;
  // q = min(15, (int8)((x - min) * 5 + 0.5)): round half up by truncation.
  std::vector<float> x(32, 0.0f);  // 1 * 5 + 0.5 -> 5
  x[0] = -1.0f;    // 0
  x[1] = 2.0f;     // 15.5 -> 15
  x[3] = 0.5f;     // 7.5 + 0.5 -> 8
  x[4] = 0.29f;    // 6.45 + 0.5 -> 6
  x[16] = 1.0f;    // 10.5 -> 10
  x[17] = -0.95f;  // 0.25 + 0.5 -> 0
  block_q4_1 b;
  quantize_row_q4_1(x.data(), &b, 32);
  std::vector<int> q(32, 5);
  q[0] = 0, q[1] = 15, q[3] = 8, q[4] = 6, q[16] = 10, q[17] = 0;
  std::vector<uint8_t> expect = {0x66, 0x32, 0x00, 0xBC};
  for (int j = 0; j < 16; ++j) expect.push_back(static_cast<uint8_t>(q[j] | (q[j + 16] << 4)));
  EXPECT_EQ(bytes_of(&b, 20), expect);

  std::vector<float> y(32);
  dequantize_row_q4_1(&b, y.data(), 32);
  EXPECT_EQ(y[0], -1.0f);                          // 0 * d + m
  EXPECT_EQ(y[1], 15 * 1638 / 8192.0f - 1.0f);     // 1.999267578125
  EXPECT_EQ(y[16], 10 * 1638 / 8192.0f - 1.0f);
  EXPECT_EQ(y[2], 5 * 1638 / 8192.0f - 1.0f);
}

TEST(Quantize, Q4_1HandBuiltBlockDequantizes) {
  // d = 1 (0x3C00), m = -2 (0xC000); qs[0] = 0x3A: element 0 is the low nibble 10, element 16
  // the high nibble 3.
  const uint8_t block[20] = {0x00, 0x3C, 0x00, 0xC0, 0x3A, 0x00, 0x00, 0x00, 0x00, 0x00,
                             0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF1};
  std::vector<float> y(32);
  ASSERT_TRUE(dequantize_row(TensorType::kQ4_1, block, y.data(), 32).ok());
  EXPECT_EQ(y[0], 8.0f);    // 10 - 2
  EXPECT_EQ(y[16], 1.0f);   // 3 - 2
  EXPECT_EQ(y[1], -2.0f);   // 0 - 2
  EXPECT_EQ(y[15], -1.0f);  // qs[15] = 0xF1: low nibble 1
  EXPECT_EQ(y[31], 13.0f);  // high nibble 15
}

TEST(Quantize, Q5_0NegativeMaxAndHighBits) {
  // The largest magnitude is -4 -> d = -4 / -16 = 0.25 (0x3400), id = 4;
  // q = min(31, (int8)(4x + 16.5)); bit 4 of q goes to bit j of qh (little-endian uint32).
  std::vector<float> x(32, 0.0f);  // 16.5 -> 16: nibble 0, high bit set
  x[0] = -4.0f;    // 0.5 -> 0
  x[1] = 3.75f;    // 31.5 -> 31
  x[2] = 0.3f;     // 17.7 -> 17
  x[3] = -0.3f;    // 15.3 -> 15
  x[16] = 3.9f;    // 32.1 -> clamped 31
  x[17] = -1.0f;   // 12.5 -> 12
  block_q5_0 b;
  quantize_row_q5_0(x.data(), &b, 32);
  // High bits: every element but 0 (q 0), 3 (q 15) and 17 (q 12): 0xFFFDFFF6.
  std::vector<uint8_t> expect = {0x00, 0x34, 0xF6, 0xFF, 0xFD, 0xFF, 0xF0, 0xCF, 0x01, 0x0F};
  for (int j = 4; j < 16; ++j) expect.push_back(0x00);
  EXPECT_EQ(bytes_of(&b, 22), expect);

  std::vector<float> y(32);
  dequantize_row_q5_0(&b, y.data(), 32);
  EXPECT_EQ(y[0], -4.0f);    // (0 - 16) / 4
  EXPECT_EQ(y[1], 3.75f);    // (31 - 16) / 4
  EXPECT_EQ(y[2], 0.25f);
  EXPECT_EQ(y[3], -0.25f);
  EXPECT_EQ(y[16], 3.75f);
  EXPECT_EQ(y[17], -1.0f);
  EXPECT_EQ(y[30], 0.0f);
}

TEST(Quantize, Q5_0HandBuiltBlockDequantizes) {
  // d = 0.5 (0x3800); qh bytes 01 02 01 80 = uint32 0x80010201: bits 0, 9, 16 and 31.
  uint8_t block[22] = {0x00, 0x38, 0x01, 0x02, 0x01, 0x80};
  block[6] = 0x21;   // element 0: nibble 1, element 16: nibble 2
  block[21] = 0xF0;  // element 15: nibble 0, element 31: nibble 15
  std::vector<float> y(32);
  ASSERT_TRUE(dequantize_row(TensorType::kQ5_0, block, y.data(), 32).ok());
  EXPECT_EQ(y[0], 0.5f);    // (1 | 16) - 16 = 1
  EXPECT_EQ(y[16], 1.0f);   // (2 | 16) - 16 = 2
  EXPECT_EQ(y[9], 0.0f);    // (0 | 16) - 16
  EXPECT_EQ(y[8], -8.0f);   // 0 - 16
  EXPECT_EQ(y[15], -8.0f);
  EXPECT_EQ(y[31], 7.5f);   // (15 | 16) - 16 = 15
  EXPECT_EQ(y[17], -8.0f);
}

TEST(Quantize, Q5_1MinAndRange) {
  // min 0.5, max 4.375 -> d = 3.875 / 31 = 0.125 (0x3000), m = 0.5 (0x3800), id = 8;
  // q = (uint8)((x - min) * 8 + 0.5).
  std::vector<float> x(32, 1.0f);  // 4.5 -> 4
  x[0] = 0.5f;     // 0
  x[1] = 4.375f;   // 31.5 -> 31
  x[2] = 2.5f;     // 16.5 -> 16
  x[3] = 0.56f;    // 0.98 -> 0
  x[4] = 0.57f;    // 1.06 -> 1
  x[16] = 3.0f;    // 20.5 -> 20
  x[17] = 4.3f;    // 30.9 -> 30
  block_q5_1 b;
  quantize_row_q5_1(x.data(), &b, 32);
  // High bits of elements 1, 2, 16 and 17: 0x00030006.
  std::vector<uint8_t> expect = {0x00, 0x30, 0x00, 0x38, 0x06, 0x00, 0x03, 0x00, 0x40, 0xEF, 0x40, 0x40, 0x41};
  for (int j = 5; j < 16; ++j) expect.push_back(0x44);
  EXPECT_EQ(bytes_of(&b, 24), expect);

  std::vector<float> y(32);
  dequantize_row_q5_1(&b, y.data(), 32);
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[1], 4.375f);  // 31 / 8 + 0.5
  EXPECT_EQ(y[2], 2.5f);
  EXPECT_EQ(y[16], 3.0f);
  EXPECT_EQ(y[17], 4.25f);  // 30 / 8 + 0.5
  EXPECT_EQ(y[5], 1.0f);
}

TEST(Quantize, Q5_1HandBuiltBlockDequantizes) {
  // d = 1 (0x3C00), m = 0.5 (0x3800); qh = 0x80000000: only element 31 has bit 4.
  uint8_t block[24] = {0x00, 0x3C, 0x00, 0x38, 0x00, 0x00, 0x00, 0x80};
  block[23] = 0xF7;  // element 15: 7, element 31: 15 | 16
  std::vector<float> y(32);
  ASSERT_TRUE(dequantize_row(TensorType::kQ5_1, block, y.data(), 32).ok());
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[15], 7.5f);
  EXPECT_EQ(y[31], 31.5f);
  EXPECT_EQ(y[30], 0.5f);
}

// An E2M1 element from its definition (OCP Microscaling Formats v1.0): bit 3 the sign, bits 2-1
// the exponent (bias 1), bit 0 the mantissa; exponent 0 is subnormal (0 or 0.5).
double e2m1_value(int nibble) {
  const int exponent = (nibble >> 1) & 3, mantissa = nibble & 1;
  const double magnitude = exponent == 0 ? 0.5 * mantissa : std::ldexp(1.0 + 0.5 * mantissa, exponent - 1);
  return (nibble & 8) != 0 ? -magnitude : magnitude;
}

// An MXFP4 element as a float: the E2M1 value times the block's 2^(e - 127), computed exactly in
// double; beyond the float range the float product overflows to infinity, as ggml's does.
float mxfp4_value(uint8_t e, int nibble) {
  const double v = e2m1_value(nibble) * std::ldexp(1.0, e - 127);
  if (std::fabs(v) > std::numeric_limits<float>::max()) return v > 0 ? std::numeric_limits<float>::infinity()
                                                                      : -std::numeric_limits<float>::infinity();
  return static_cast<float>(v);
}

TEST(Quantize, Mxfp4HalfScaleIsTwoToTheEMinus128) {
  for (int e = 0; e < 256; ++e)
    ASSERT_EQ(e8m0_to_fp32_half(static_cast<uint8_t>(e)), static_cast<float>(std::ldexp(1.0, e - 128))) << e;
}

// Every nibble in both halves of the block (element j < 16 is nibble j, element 16 + j nibble
// 15 - j), at exponents from the subnormal halved scales (e = 0, 1) to the top (254, 255, where
// 8 and 12 times the scale overflow).
TEST(Quantize, Mxfp4HandBuiltBlocksDequantize) {
  for (int e : {0, 1, 2, 127, 200, 254, 255}) {
    uint8_t block[17] = {static_cast<uint8_t>(e)};
    for (int j = 0; j < 16; ++j) block[1 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    std::vector<float> y(64, -1.0f);
    ASSERT_TRUE(dequantize_row(TensorType::kMXFP4, block, y.data(), 32).ok());
    for (int j = 0; j < 16; ++j) {
      ASSERT_EQ(y[j], mxfp4_value(static_cast<uint8_t>(e), j)) << "e " << e << " element " << j;
      ASSERT_EQ(y[16 + j], mxfp4_value(static_cast<uint8_t>(e), 15 - j)) << "e " << e << " element " << 16 + j;
    }
    EXPECT_EQ(y[32], -1.0f);
  }
  // Nibbles 0 and 8 are both zero (+0 and -0 in E2M1); the table keeps one zero.
  const uint8_t zeros[17] = {127, 0x80, 0x08};
  float y[32];
  dequantize_row_mxfp4(zeros, y, 32);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[16], 0.0f);
  EXPECT_EQ(y[1], 0.0f);
}

// amax 6 -> e = floor(log2 6) - 2 + 127 = 127, halved scale 0.5: the table times 0.5 is 0, 0.5,
// 1, 1.5, 2, 3, 4, 6 and their negatives (nibbles 8-15).  Each element goes to the nearest; on
// a tie (errors compared in float, exact here) the lower nibble wins, so -0.25 is nibble 0
// (not 8 or 9) and -5 is nibble 14 (-4), not 15.
TEST(Quantize, Mxfp4NearestValuesAndTies) {
  std::vector<float> x(32, 0.0f);
  std::vector<int> q(32, 0);
  const struct {
    int j;
    float x;
    int nibble;
  } cases[] = {{0, 6.0f, 7},     {1, 0.25f, 0},   {2, -0.25f, 0},  {3, 1.25f, 2},   {4, 2.5f, 4},
               {5, -5.0f, 14},   {6, 5.0f, 6},    {7, -0.0f, 0},   {8, 3.4f, 5},    {9, -1.6f, 11},
               {10, 0.76f, 2},   {11, -6.0f, 15}, {12, 0.26f, 1},  {13, -0.24f, 0}, {14, 3.5f, 5},
               {15, -3.5f, 13},  {16, -0.75f, 9}, {17, 0.75f, 1},  {18, -2.5f, 12}, {19, 1.75f, 3},
               {20, 4.0f, 6},    {21, -4.0f, 14}, {22, 1.0f, 2},   {23, -1.0f, 10}, {24, 0.5f, 1},
               {25, -3.0f, 13},  {26, 5.9f, 7},   {27, -0.5f, 9}};
  for (const auto& c : cases) {
    x[c.j] = c.x;
    q[c.j] = c.nibble;
  }
  block_mxfp4 b;
  quantize_row_mxfp4(x.data(), &b, 32);
  std::vector<uint8_t> expect = {127};
  for (int j = 0; j < 16; ++j) expect.push_back(static_cast<uint8_t>(q[j] | (q[j + 16] << 4)));
  EXPECT_EQ(bytes_of(&b, 17), expect);

  std::vector<float> y(32);
  dequantize_row_mxfp4(&b, y.data(), 32);
  EXPECT_EQ(y[0], 6.0f);
  EXPECT_EQ(y[5], -4.0f);
  EXPECT_EQ(y[14], 3.0f);
  EXPECT_EQ(y[26], 6.0f);
}

// The exponent byte from the block's largest magnitude, floor(log2 amax) - 2 + 127, and what it
// does to the largest element: amax lies between 8 and 16 times the halved scale, and above 12
// (the table's largest) it is clipped.  Below amax = 2^-125 the expression goes negative; ggml's
// cast to uint8_t keeps the low 8 bits there (on x86), a huge scale that sends the block to 0.
TEST(Quantize, Mxfp4ExponentFromLargestMagnitude) {
  const struct {
    float amax;
    uint8_t e;
    int nibble;  // of the element holding amax (element 5)
  } cases[] = {
      {8.0f, 128, 6},                     // scale 1: 8 is nibble 6
      {7.5f, 127, 7},                     // scale 0.5: 15 steps, clipped to 12 (6.0)
      {-1.0f, 125, 14},                   // scale 1/8: -8 steps
      {12.0f, 128, 7},                    // 12 steps exactly
      {std::ldexp(1.0f, -125), 0, 6},     // the smallest scale, 2^-128: 8 steps
      {std::ldexp(1.0f, -124), 1, 6},     // 2^-127
      {std::ldexp(1.0f, -126), 255, 0},   // floor(log2) - 2 + 127 = -1 -> 255 (scale 2^127)
      {std::ldexp(1.0f, -127), 254, 0},   // -2 -> 254
      {3e38f, 252, 7},                    // 3e38 / 2^124 = 14.1 steps, clipped
      {0.0f, 0, 0},                       // an all-zero block: e = 0
  };
  for (const auto& c : cases) {
    std::vector<float> x(32, 0.0f);
    x[5] = c.amax;
    block_mxfp4 b;
    quantize_row_mxfp4(x.data(), &b, 32);
    EXPECT_EQ(b.e, c.e) << "amax " << c.amax;
    EXPECT_EQ(b.qs[5] & 0x0F, c.nibble) << "amax " << c.amax;
    std::vector<float> y(32);
    dequantize_row_mxfp4(&b, y.data(), 32);
    EXPECT_EQ(y[5], mxfp4_value(c.e, c.nibble)) << "amax " << c.amax;
  }
}

// dequantize(quantize(x)) for MXFP4 over blocks of very different magnitudes: the exponent is
// floor(log2 amax) - 2 + 127 (amax is never within an ulp of a power of two here, where log2f may
// round up), and every element is within half the grid's local spacing of x (one step of the
// halved scale s below 4s, two below 8s, four below 12s) or, above 12s, clipped to 12s.
TEST(Quantize, Mxfp4RoundTripWithinResolution) {
  std::vector<float> x(1024);
  for (int i = 0; i < 1024; ++i) {
    const float magnitude = std::ldexp(1.0f, (i / 32) % 13 * 9 - 60);  // 2^-60 .. 2^48 by block
    x[i] = std::sin(i * 0.37f) * (1.0f + (i % 7)) * magnitude;
  }
  std::vector<uint8_t> q(32 * sizeof(block_mxfp4));
  ASSERT_TRUE(quantize_row(TensorType::kMXFP4, x.data(), q.data(), 1024).ok());
  std::vector<uint8_t> direct(q.size());
  quantize_row_mxfp4(x.data(), direct.data(), 1024);
  EXPECT_EQ(q, direct);
  std::vector<float> y(1024);
  ASSERT_TRUE(dequantize_row(TensorType::kMXFP4, q.data(), y.data(), 1024).ok());
  for (int b = 0; b < 32; ++b) {
    double amax = 0.0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(double{x[32 * b + j]}));
    const int floor_log2 = std::ilogb(amax);
    ASSERT_EQ(q[b * sizeof(block_mxfp4)], floor_log2 - 2 + 127) << "block " << b;
    const double s = std::ldexp(1.0, floor_log2 - 3);
    for (int j = 0; j < 32; ++j) {
      const double v = std::fabs(double{x[32 * b + j]}) / s;  // in steps of s
      const double bound = v > 12 ? v - 12 : v > 8 ? 2 : v > 4 ? 1 : 0.5;
      ASSERT_LE(std::fabs(double{y[32 * b + j]} - x[32 * b + j]), bound * s * (1 + 1e-6))
          << "block " << b << " element " << j;
    }
  }
}

// dequantize(quantize(x)) for the 32-element formats on data with a large common offset (where
// q4_1 / q5_1's minimum matters) and on signed data, within each format's resolution: half a
// step (a full step where q5_0 clamps the positive end at 15 instead of 16), plus the fp16
// rounding of d (relative 2^-11, times up to 31 steps) and of m.
TEST(Quantize, LegacyFormatsRoundTripWithinResolution) {
  std::vector<float> x(1024);
  for (int i = 0; i < 1024; ++i) {
    const float wave = std::sin(i * 0.37f) * (1.0f + (i % 7));
    x[i] = i < 512 ? wave : 20.0f + 0.3f * wave;  // second half: all positive, offset 20
  }
  struct Case {
    TensorType type;
    int levels;   // q in [0, levels]
    bool signed_max;  // q5_0: d = amax / 16, no minimum
  };
  for (const Case& c : {Case{TensorType::kQ4_1, 15, false}, Case{TensorType::kQ5_0, 31, true},
                        Case{TensorType::kQ5_1, 31, false}}) {
    std::vector<uint8_t> q(32 * tensor_type_traits(c.type)->type_size);
    ASSERT_TRUE(quantize_row(c.type, x.data(), q.data(), 1024).ok());
    std::vector<float> y(1024);
    ASSERT_TRUE(dequantize_row(c.type, q.data(), y.data(), 1024).ok());
    for (int b = 0; b < 32; ++b) {
      float lo = x[32 * b], hi = x[32 * b], amax = 0.0f;
      for (int j = 0; j < 32; ++j) {
        lo = std::min(lo, x[32 * b + j]);
        hi = std::max(hi, x[32 * b + j]);
        amax = std::max(amax, std::fabs(x[32 * b + j]));
      }
      const float d = c.signed_max ? amax / 16 : (hi - lo) / c.levels;
      const float step_error = c.signed_max ? d : d / 2;
      const float fp16_error = (c.levels * d + (c.signed_max ? 0.0f : std::fabs(lo))) / 2048;
      const float bound = step_error * 1.001f + fp16_error;
      for (int j = 0; j < 32; ++j)
        ASSERT_LE(std::fabs(y[32 * b + j] - x[32 * b + j]), bound)
            << tensor_type_name(c.type) << " block " << b << " element " << j;
    }
    // The generic entry point writes what the format's own quantizer writes.
    std::vector<uint8_t> direct(q.size());
    if (c.type == TensorType::kQ4_1) quantize_row_q4_1(x.data(), direct.data(), 1024);
    if (c.type == TensorType::kQ5_0) quantize_row_q5_0(x.data(), direct.data(), 1024);
    if (c.type == TensorType::kQ5_1) quantize_row_q5_1(x.data(), direct.data(), 1024);
    EXPECT_EQ(q, direct) << tensor_type_name(c.type);
  }
  // An offset block in q5_0 (no minimum) is much coarser than in q5_1: the point of the minimum.
  std::vector<uint8_t> q0(32 * 22), q1(32 * 24);
  std::vector<float> y0(1024), y1(1024);
  quantize_row_q5_0(x.data(), q0.data(), 1024);
  quantize_row_q5_1(x.data(), q1.data(), 1024);
  dequantize_row_q5_0(q0.data(), y0.data(), 1024);
  dequantize_row_q5_1(q1.data(), y1.data(), 1024);
  double e0 = 0, e1 = 0;
  for (int i = 512; i < 1024; ++i) {
    e0 += std::fabs(y0[i] - x[i]);
    e1 += std::fabs(y1[i] - x[i]);
  }
  EXPECT_LT(e1 * 4, e0);
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
  EXPECT_EQ(dequantize_row(TensorType::kQ2_K, a.data(), y.data(), 64).message(),
            "dequantize: tensor type q2_K is not supported (expected f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, "
            "mxfp4, q4_K, q5_K or q6_K)");
  EXPECT_EQ(quantize_row(TensorType::kQ4_K, x.data(), a.data(), 64).message(),
            "quantize: 64 elements is not a multiple of q4_K's block size 256");
  EXPECT_TRUE(can_convert(TensorType::kBF16));
  EXPECT_FALSE(can_convert(TensorType::kQ2_K));
  EXPECT_TRUE(can_convert(TensorType::kQ4_1));
  EXPECT_TRUE(can_convert(TensorType::kQ5_0));
  EXPECT_TRUE(can_convert(TensorType::kQ5_1));
  EXPECT_TRUE(can_convert(TensorType::kMXFP4));
  EXPECT_EQ(quantize_row(TensorType::kMXFP4, x.data(), a.data(), 48).message(),
            "quantize: 48 elements is not a multiple of mxfp4's block size 32");
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
