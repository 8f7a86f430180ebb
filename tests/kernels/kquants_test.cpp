// Dequantization of every format against blocks built by hand, and quantize -> dequantize
// error bounds.
#include <cstring>

#include "core/half.h"
#include "kernel_test_util.h"

namespace plumb::kernels {
namespace {

// Scales 1,2,3,4,17,18,19,20 and mins 5,6,7,8,33,34,35,36, packed by hand following ggml's
// get_scale_min_k4 (low 6 bits in bytes 0-7 for sub-blocks 0-3, nibbles in bytes 8-11 plus
// the top 2 bits in bytes 0-7 for sub-blocks 4-7).
constexpr uint8_t kPackedScales[12] = {0x41, 0x42, 0x43, 0x44, 0x85, 0x86, 0x87, 0x88, 0x11, 0x22, 0x33, 0x44};
constexpr int kScales[8] = {1, 2, 3, 4, 17, 18, 19, 20};
constexpr int kMins[8] = {5, 6, 7, 8, 33, 34, 35, 36};

TEST(KQuants, ScaleMinPackingMatchesHandPackedBytes) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, kPackedScales, &sc, &m);
    EXPECT_EQ(sc, kScales[j]) << "sub-block " << j;
    EXPECT_EQ(m, kMins[j]) << "sub-block " << j;
  }
  uint8_t sc[8], m[8], packed[12];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>(kScales[j]);
    m[j] = static_cast<uint8_t>(kMins[j]);
  }
  pack_scale_min_k4(sc, m, packed);
  EXPECT_EQ(std::memcmp(packed, kPackedScales, 12), 0);
}

TEST(KQuants, DequantizeQ4KHandBuilt) {
  block_q4_K b;
  b.d = 0x3800;     // 0.5
  b.dmin = 0x3400;  // 0.25
  std::memcpy(b.scales, kPackedScales, 12);
  for (int k = 0; k < 128; ++k) b.qs[k] = static_cast<uint8_t>(k * 7 + 3);
  float y[256];
  kernels::dequantize_row(TensorType::kQ4_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) {
    const int c = e / 64, l = e % 32;
    const bool high = (e % 64) >= 32;
    const int nib = high ? (b.qs[32 * c + l] >> 4) : (b.qs[32 * c + l] & 15);
    const float want = 0.5f * kScales[e / 32] * nib - 0.25f * kMins[e / 32];
    ASSERT_EQ(y[e], want) << "element " << e;
  }
}

TEST(KQuants, DequantizeQ5KHandBuilt) {
  block_q5_K b;
  b.d = 0x3C00;     // 1.0
  b.dmin = 0x3800;  // 0.5
  std::memcpy(b.scales, kPackedScales, 12);
  for (int k = 0; k < 128; ++k) b.qs[k] = static_cast<uint8_t>(k * 13 + 1);
  for (int k = 0; k < 32; ++k) b.qh[k] = static_cast<uint8_t>(k * 37 + 5);
  float y[256];
  kernels::dequantize_row(TensorType::kQ5_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) {
    const int c = e / 64, l = e % 32, j = e / 32;
    const bool high = (e % 64) >= 32;
    const int nib = high ? (b.qs[32 * c + l] >> 4) : (b.qs[32 * c + l] & 15);
    const int bit5 = (b.qh[l] >> j) & 1;  // sub-block j's fifth bits live in bit j of qh
    const float want = 1.0f * kScales[j] * (nib + 16 * bit5) - 0.5f * kMins[j];
    ASSERT_EQ(y[e], want) << "element " << e;
  }
}

TEST(KQuants, DequantizeQ6KHandBuilt) {
  block_q6_K b;
  for (int k = 0; k < 128; ++k) b.ql[k] = static_cast<uint8_t>(k * 11 + 7);
  for (int k = 0; k < 64; ++k) b.qh[k] = static_cast<uint8_t>(k * 29 + 3);
  for (int k = 0; k < 16; ++k) b.scales[k] = static_cast<int8_t>(k * 17 - 120);
  b.d = 0x3400;  // 0.25
  float y[256];
  kernels::dequantize_row(TensorType::kQ6_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, quarter = (e % 128) / 32, l = e % 32;
    const uint8_t low_byte = b.ql[64 * h + l + (quarter % 2 == 1 ? 32 : 0)];
    const int low = quarter < 2 ? (low_byte & 15) : (low_byte >> 4);
    const int high = (b.qh[32 * h + l] >> (2 * quarter)) & 3;
    const float want = 0.25f * b.scales[e / 16] * ((low | (high << 4)) - 32);
    ASSERT_EQ(y[e], want) << "element " << e;
  }
}

TEST(KQuants, DequantizeQ8_0AndQ4_0HandBuilt) {
  gguf::block_q8_0 q8;
  q8.d = 0xB800;  // -0.5
  for (int j = 0; j < 32; ++j) q8.qs[j] = static_cast<int8_t>(j * 8 - 128);
  float y[32];
  kernels::dequantize_row(TensorType::kQ8_0, &q8, y, 32);
  for (int j = 0; j < 32; ++j) ASSERT_EQ(y[j], -0.5f * (j * 8 - 128)) << j;

  gguf::block_q4_0 q4;
  q4.d = 0x4000;  // 2.0
  for (int j = 0; j < 16; ++j) q4.qs[j] = static_cast<uint8_t>(j * 23 + 1);
  kernels::dequantize_row(TensorType::kQ4_0, &q4, y, 32);
  for (int j = 0; j < 16; ++j) {
    ASSERT_EQ(y[j], 2.0f * ((q4.qs[j] & 15) - 8)) << j;
    ASSERT_EQ(y[j + 16], 2.0f * ((q4.qs[j] >> 4) - 8)) << j;
  }
}

TEST(KQuants, DequantizeQ8KHandBuilt) {
  block_q8_K b;
  b.d = 0.125f;
  for (int j = 0; j < 256; ++j) b.qs[j] = static_cast<int8_t>(j - 128);
  float y[256];
  dequantize_row_q8_K(&b, y, 256);
  for (int j = 0; j < 256; ++j) ASSERT_EQ(y[j], 0.125f * (j - 128)) << j;
}

// Root-mean-square quantization error relative to the RMS of uniform [-1, 1] data.  The
// bounds sit ~25% above what the reference quantizers achieve (one step / sqrt(12) in theory).
struct ErrorBound {
  TensorType type;
  double max_rel_rmse;
};
constexpr ErrorBound kQuantErrorBounds[] = {
    {TensorType::kF16, 3e-4},  {TensorType::kBF16, 3e-3}, {TensorType::kQ8_0, 5e-3}, {TensorType::kQ4_0, 8e-2},
    {TensorType::kQ4_K, 8e-2}, {TensorType::kQ5_K, 4e-2}, {TensorType::kQ6_K, 2e-2},
    // A power-of-two scale from amax in [0.5, 1) tops out at 0.75: uniform data's top eighth is clipped.
    {TensorType::kMXFP4, 1.8e-1},
};

TEST(KQuants, QuantizeDequantizeErrorWithinBounds) {
  constexpr int64_t n = 256 * 32;
  const std::vector<float> x = test::random_floats(n, 42);
  double ss = 0.0;
  for (float v : x) ss += double{v} * v;
  const double rms = std::sqrt(ss / n);
  for (const ErrorBound& eb : kQuantErrorBounds) {
    std::vector<uint8_t> q(row_size(eb.type, n));
    test::quantize_ref(eb.type, x.data(), q.data(), n);
    std::vector<float> back(n);
    kernels::dequantize_row(eb.type, q.data(), back.data(), n);
    double se = 0.0;
    for (int64_t i = 0; i < n; ++i) se += (double{back[i]} - x[i]) * (double{back[i]} - x[i]);
    const double rel = std::sqrt(se / n) / rms;
    EXPECT_LT(rel, eb.max_rel_rmse) << tensor_type_name(eb.type);
    std::printf("  %-5s relative RMSE %.5f (bound %.5f)\n", std::string(tensor_type_name(eb.type)).c_str(), rel,
                eb.max_rel_rmse);
  }
}

TEST(KQuants, Q8KBlockSumsMatchValues) {
  const std::vector<float> x = test::random_floats(512, 7, -3.0f, 2.0f);
  block_q8_K b[2];
  quantize_row_q8_K_ref(x.data(), b, 512);
  for (const auto& blk : b) {
    for (int k = 0; k < 16; ++k) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += blk.qs[16 * k + l];
      EXPECT_EQ(blk.bsums[k], s);
    }
  }
  std::vector<float> back(512);
  dequantize_row_q8_K(b, back.data(), 512);
  for (int i = 0; i < 512; ++i) EXPECT_NEAR(back[i], x[i], 3.0f / 127.0f * 0.5f + 1e-6f) << i;
}

TEST(KQuants, ZeroBlocksStayZero) {
  const std::vector<float> zeros(256, 0.0f);
  for (TensorType t : test::computable_types()) {
    std::vector<uint8_t> q(row_size(t, 256));
    test::quantize_ref(t, zeros.data(), q.data(), 256);
    std::vector<float> back(256, 1.0f);
    kernels::dequantize_row(t, q.data(), back.data(), 256);
    for (float v : back) ASSERT_EQ(v, 0.0f) << tensor_type_name(t);
  }
}

}  // namespace
}  // namespace plumb::kernels
