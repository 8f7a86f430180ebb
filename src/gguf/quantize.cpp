#include "gguf/quantize.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "core/half.h"
#include "gguf/kquants.h"

namespace plumb::gguf {

void quantize_row_q8_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_0*>(vy);
  const int64_t nb = n / kQK8_0;
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + i * kQK8_0;
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q8_0 b;
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < kQK8_0; ++j) b.qs[j] = static_cast<int8_t>(std::roundf(xb[j] * id));
    std::memcpy(&y[i], &b, sizeof b);
  }
}

void dequantize_row_q8_0(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const uint8_t*>(vx);
  const int64_t nb = n / kQK8_0;
  for (int64_t i = 0; i < nb; ++i) {
    block_q8_0 b;
    std::memcpy(&b, x + i * sizeof(block_q8_0), sizeof b);
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < kQK8_0; ++j) y[i * kQK8_0 + j] = b.qs[j] * d;
  }
}

void quantize_row_q4_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q4_0*>(vy);
  const int64_t nb = n / kQK4_0;
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + i * kQK4_0;
    // The signed value of largest magnitude maps to -8, so the full range [-8, 7] is used.
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQK4_0; ++j) {
      if (amax < std::fabs(xb[j])) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q4_0 b;
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      // ggml truncates toward zero via an int8_t cast after adding 8.5 (round half up).
      const uint8_t lo = static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>(xb[j] * id + 8.5f)));
      const uint8_t hi =
          static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>(xb[j + kQK4_0 / 2] * id + 8.5f)));
      b.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
    std::memcpy(&y[i], &b, sizeof b);
  }
}

void dequantize_row_q4_0(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const uint8_t*>(vx);
  const int64_t nb = n / kQK4_0;
  for (int64_t i = 0; i < nb; ++i) {
    block_q4_0 b;
    std::memcpy(&b, x + i * sizeof(block_q4_0), sizeof b);
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[i * kQK4_0 + j] = static_cast<float>((b.qs[j] & 0x0f) - 8) * d;
      y[i * kQK4_0 + j + kQK4_0 / 2] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
    }
  }
}

namespace {

// Smallest and largest value of a block of 32 (the minimum-offset formats q4_1 / q5_1).
void block_min_max(const float* x, float* min, float* max) {
  *min = std::numeric_limits<float>::max();
  *max = -std::numeric_limits<float>::max();
  for (int j = 0; j < 32; ++j) {
    *min = std::min(*min, x[j]);
    *max = std::max(*max, x[j]);
  }
}

// The value of largest magnitude, with its sign (the first one on ties, as ggml).
float block_signed_absmax(const float* x) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < 32; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

// Bit 4 of each of the 32 quants q[0..31], as the little-endian qh field of q5_0 / q5_1 holds it.
void pack_high_bits(const uint8_t (&q)[32], uint8_t* qs, uint8_t* qh) {
  uint32_t h = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
    h |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
    h |= static_cast<uint32_t>((q[j + 16] >> 4) & 1) << (j + 16);
  }
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(h >> (8 * k));
}

// The 5-bit quant of element j (0..31) from a block's qs and qh fields.
int quant5(const uint8_t* qs, const uint8_t* qh, int j) {
  const uint32_t h = qh[0] | (uint32_t{qh[1]} << 8) | (uint32_t{qh[2]} << 16) | (uint32_t{qh[3]} << 24);
  const int nibble = j < 16 ? (qs[j] & 0x0F) : (qs[j - 16] >> 4);
  return nibble | static_cast<int>(((h >> j) & 1) << 4);
}

}  // namespace

void quantize_row_q4_1(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<uint8_t*>(vy);
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    const float* xb = x + i * kQK4_1;
    float min, max;
    block_min_max(xb, &min, &max);
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q4_1 b;
    b.d = fp32_to_fp16(d);
    b.m = fp32_to_fp16(min);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      // As ggml: offsets from the unrounded min, rounded half up by truncation after + 0.5.
      const int lo = std::min(15, static_cast<int>(static_cast<int8_t>((xb[j] - min) * id + 0.5f)));
      const int hi = std::min(15, static_cast<int>(static_cast<int8_t>((xb[j + kQK4_1 / 2] - min) * id + 0.5f)));
      b.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
    std::memcpy(y + i * sizeof(block_q4_1), &b, sizeof b);
  }
}

void dequantize_row_q4_1(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const uint8_t*>(vx);
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    block_q4_1 b;
    std::memcpy(&b, x + i * sizeof(block_q4_1), sizeof b);
    const float d = fp16_to_fp32(b.d);
    const float m = fp16_to_fp32(b.m);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      y[i * kQK4_1 + j] = static_cast<float>(b.qs[j] & 0x0F) * d + m;
      y[i * kQK4_1 + j + kQK4_1 / 2] = static_cast<float>(b.qs[j] >> 4) * d + m;
    }
  }
}

void quantize_row_q5_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<uint8_t*>(vy);
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const float* xb = x + i * kQK5_0;
    // The signed value of largest magnitude maps to -16, so the full range [-16, 15] is used.
    const float d = block_signed_absmax(xb) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[32];
    for (int j = 0; j < kQK5_0; ++j)
      q[j] = static_cast<uint8_t>(std::min(31, static_cast<int>(static_cast<int8_t>(xb[j] * id + 16.5f))));
    block_q5_0 b;
    b.d = fp32_to_fp16(d);
    pack_high_bits(q, b.qs, b.qh);
    std::memcpy(y + i * sizeof(block_q5_0), &b, sizeof b);
  }
}

void dequantize_row_q5_0(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const uint8_t*>(vx);
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    block_q5_0 b;
    std::memcpy(&b, x + i * sizeof(block_q5_0), sizeof b);
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < kQK5_0; ++j) y[i * kQK5_0 + j] = static_cast<float>(quant5(b.qs, b.qh, j) - 16) * d;
  }
}

void quantize_row_q5_1(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<uint8_t*>(vy);
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    const float* xb = x + i * kQK5_1;
    float min, max;
    block_min_max(xb, &min, &max);
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[32];
    // ggml does not clamp here ((max - min) * id stays below 31.5); the clamp only guards the 5 bits.
    for (int j = 0; j < kQK5_1; ++j)
      q[j] = static_cast<uint8_t>(std::min(31, static_cast<int>(static_cast<uint8_t>((xb[j] - min) * id + 0.5f))));
    block_q5_1 b;
    b.d = fp32_to_fp16(d);
    b.m = fp32_to_fp16(min);
    pack_high_bits(q, b.qs, b.qh);
    std::memcpy(y + i * sizeof(block_q5_1), &b, sizeof b);
  }
}

void dequantize_row_q5_1(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const uint8_t*>(vx);
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    block_q5_1 b;
    std::memcpy(&b, x + i * sizeof(block_q5_1), sizeof b);
    const float d = fp16_to_fp32(b.d);
    const float m = fp16_to_fp32(b.m);
    for (int j = 0; j < kQK5_1; ++j) y[i * kQK5_1 + j] = static_cast<float>(quant5(b.qs, b.qh, j)) * d + m;
  }
}

float e8m0_to_fp32_half(uint8_t e) {
  // e >= 2: the normal float with exponent field e - 1; e = 1, 0: the subnormals 2^-127, 2^-128.
  const uint32_t bits = e < 2 ? uint32_t{0x00200000} << e : static_cast<uint32_t>(e - 1) << 23;
  return std::bit_cast<float>(bits);
}

namespace {

// The exponent byte ggml's quantize_row_mxfp4_ref stores for a block whose largest magnitude is
// amax > 0: (uint8_t)(floorf(log2f(amax)) - 2 + 127), in the same float operations.  That cast
// is undefined in C below amax = 2^-125 (and for an infinite amax); on x86 it keeps the low 8
// bits of the 32-bit conversion (0 for infinity), which is what happens here without the UB.
uint8_t mxfp4_exponent(float amax) {
  const float e = std::floor(std::log2(amax)) - 2.0f + 127.0f;
  if (!std::isfinite(e)) return 0;
  return static_cast<uint8_t>(static_cast<int32_t>(e));
}

// The index of the table value nearest x / scale, as ggml's best_index_mxfp4 finds it: errors
// |value * scale - x| in float, the first index kept on ties.
uint8_t mxfp4_nearest(float x, float scale) {
  int best = 0;
  float best_err = std::fabs(kMxfp4Values[0] * scale - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(kMxfp4Values[i] * scale - x);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return static_cast<uint8_t>(best);
}

}  // namespace

void quantize_row_mxfp4(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<uint8_t*>(vy);
  for (int64_t i = 0; i < n / kQK_MXFP4; ++i) {
    const float* xb = x + i * kQK_MXFP4;
    float amax = 0.0f;
    for (int j = 0; j < kQK_MXFP4; ++j) amax = std::max(amax, std::fabs(xb[j]));
    block_mxfp4 b;
    b.e = amax > 0.0f ? mxfp4_exponent(amax) : 0;
    const float scale = e8m0_to_fp32_half(b.e);
    for (int j = 0; j < kQK_MXFP4 / 2; ++j)
      b.qs[j] = static_cast<uint8_t>(mxfp4_nearest(xb[j], scale) | (mxfp4_nearest(xb[j + kQK_MXFP4 / 2], scale) << 4));
    std::memcpy(y + i * sizeof(block_mxfp4), &b, sizeof b);
  }
}

void dequantize_row_mxfp4(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const uint8_t*>(vx);
  for (int64_t i = 0; i < n / kQK_MXFP4; ++i) {
    block_mxfp4 b;
    std::memcpy(&b, x + i * sizeof(block_mxfp4), sizeof b);
    const float scale = e8m0_to_fp32_half(b.e);
    for (int j = 0; j < kQK_MXFP4 / 2; ++j) {
      y[i * kQK_MXFP4 + j] = kMxfp4Values[b.qs[j] & 0x0F] * scale;
      y[i * kQK_MXFP4 + j + kQK_MXFP4 / 2] = kMxfp4Values[b.qs[j] >> 4] * scale;
    }
  }
}

void quantize_row_f16(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<uint8_t*>(vy);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_fp16(x[i]);
    std::memcpy(y + 2 * i, &h, 2);
  }
}

void dequantize_row_f16(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const uint8_t*>(vx);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, x + 2 * i, 2);
    y[i] = fp16_to_fp32(h);
  }
}

void quantize_row_bf16(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<uint8_t*>(vy);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_bf16(x[i]);
    std::memcpy(y + 2 * i, &h, 2);
  }
}

void dequantize_row_bf16(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const uint8_t*>(vx);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, x + 2 * i, 2);
    y[i] = bf16_to_fp32(h);
  }
}

bool can_convert(TensorType type) {
  switch (type) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16:
    case TensorType::kQ8_0:
    case TensorType::kQ4_0:
    case TensorType::kQ4_1:
    case TensorType::kQ5_0:
    case TensorType::kQ5_1:
    case TensorType::kMXFP4:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
      return true;
    default:
      return false;
  }
}

namespace {

Status check_convertible(TensorType type, int64_t n, const char* what) {
  if (!can_convert(type))
    return Status::Unsupported(std::string(what) + ": tensor type " + std::string(tensor_type_name(type)) +
                               " is not supported (expected f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, mxfp4, "
                               "q4_K, q5_K or q6_K)");
  const auto traits = tensor_type_traits(type);
  if (n < 0 || n % traits->block_size != 0)
    return Status::InvalidArgument(std::string(what) + ": " + std::to_string(n) + " elements is not a multiple of " +
                                   std::string(traits->name) + "'s block size " + std::to_string(traits->block_size));
  return Status::Ok();
}

}  // namespace

Status quantize_row(TensorType type, const float* x, void* y, int64_t n) {
  PLUMB_RETURN_IF_ERROR(check_convertible(type, n, "quantize"));
  switch (type) {
    case TensorType::kF32: std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float)); break;
    case TensorType::kF16: quantize_row_f16(x, y, n); break;
    case TensorType::kBF16: quantize_row_bf16(x, y, n); break;
    case TensorType::kQ8_0: quantize_row_q8_0(x, y, n); break;
    case TensorType::kQ4_0: quantize_row_q4_0(x, y, n); break;
    case TensorType::kQ4_1: quantize_row_q4_1(x, y, n); break;
    case TensorType::kQ5_0: quantize_row_q5_0(x, y, n); break;
    case TensorType::kQ5_1: quantize_row_q5_1(x, y, n); break;
    case TensorType::kMXFP4: quantize_row_mxfp4(x, y, n); break;
    case TensorType::kQ4_K: quantize_row_q4_K_ref(x, y, n); break;
    case TensorType::kQ5_K: quantize_row_q5_K_ref(x, y, n); break;
    case TensorType::kQ6_K: quantize_row_q6_K_ref(x, y, n); break;
    default: break;
  }
  return Status::Ok();
}

Status dequantize_row(TensorType type, const void* x, float* y, int64_t n) {
  PLUMB_RETURN_IF_ERROR(check_convertible(type, n, "dequantize"));
  switch (type) {
    case TensorType::kF32: std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float)); break;
    case TensorType::kF16: dequantize_row_f16(x, y, n); break;
    case TensorType::kBF16: dequantize_row_bf16(x, y, n); break;
    case TensorType::kQ8_0: dequantize_row_q8_0(x, y, n); break;
    case TensorType::kQ4_0: dequantize_row_q4_0(x, y, n); break;
    case TensorType::kQ4_1: dequantize_row_q4_1(x, y, n); break;
    case TensorType::kQ5_0: dequantize_row_q5_0(x, y, n); break;
    case TensorType::kQ5_1: dequantize_row_q5_1(x, y, n); break;
    case TensorType::kMXFP4: dequantize_row_mxfp4(x, y, n); break;
    case TensorType::kQ4_K: dequantize_row_q4_K(x, y, n); break;
    case TensorType::kQ5_K: dequantize_row_q5_K(x, y, n); break;
    case TensorType::kQ6_K: dequantize_row_q6_K(x, y, n); break;
    default: break;
  }
  return Status::Ok();
}

}  // namespace plumb::gguf
