// gguf/kquants.h — the K-quant super-block formats (256 elements per block), laid out
// exactly as ggml's ggml-common.h defines them, plus scalar reference conversions.
//
// The quantizers here are simple (min/max per sub-block, no search) and exist for tests and
// synthetic models; dequantization is exact with respect to the format.  Q8_K is the
// activation format the K-quant dot products consume.
//
// This header holds only plain structs and declarations (no inline functions) because the
// per-ISA translation units of kernels/ include it (see kernels/dispatch.h).
#pragma once

#include <cstdint>

namespace plumb::gguf {

inline constexpr int kQK_K = 256;
inline constexpr int kKScaleSize = 12;

// 8 sub-blocks of 32: value = d * sc[j] * q - dmin * m[j], q in [0, 15].  The 6-bit sc/m are
// packed into scales[12] (decode with get_scale_min_k4).  qs[32*c + l] holds element 64c + l in
// its low nibble and element 64c + 32 + l in its high nibble.
struct block_q4_K {
  uint16_t d;     // fp16 super-block scale for the sub-block scales
  uint16_t dmin;  // fp16 super-block scale for the sub-block mins
  uint8_t scales[kKScaleSize];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(block_q4_K) == 144, "block_q4_K must match ggml's layout");

// As block_q4_K with a fifth bit per value: qh[l] bit 2c is the high bit of element 64c + l,
// bit 2c + 1 that of element 64c + 32 + l.  q in [0, 31].
struct block_q5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(block_q5_K) == 176, "block_q5_K must match ggml's layout");

// 16 sub-blocks of 16: value = d * scales[k] * (q - 32), q in [0, 63] split into 4 low bits
// (ql) and 2 high bits (qh); see dequantize_row_q6_K for the interleaving.
struct block_q6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;  // fp16
};
static_assert(sizeof(block_q6_K) == 210, "block_q6_K must match ggml's layout");

// Activations: value = d * qs[j]; bsums[k] = sum of qs[16k .. 16k+15].
struct block_q8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(block_q8_K) == 292, "block_q8_K must match ggml's layout");

// Decodes the 6-bit scale and min of sub-block j (0..7) from a packed scales[12].
void get_scale_min_k4(int j, const uint8_t* scales, uint8_t* sc, uint8_t* m);
// Inverse of get_scale_min_k4: packs 8 scales and 8 mins (each < 64).
void pack_scale_min_k4(const uint8_t* sc, const uint8_t* m, uint8_t* scales);

// REQUIRES: n % 256 == 0; x/y point to n floats and n / 256 blocks.
void quantize_row_q4_K_ref(const float* x, void* y, int64_t n);
void quantize_row_q5_K_ref(const float* x, void* y, int64_t n);
void quantize_row_q6_K_ref(const float* x, void* y, int64_t n);
void quantize_row_q8_K_ref(const float* x, void* y, int64_t n);
void dequantize_row_q4_K(const void* x, float* y, int64_t n);
void dequantize_row_q5_K(const void* x, float* y, int64_t n);
void dequantize_row_q6_K(const void* x, float* y, int64_t n);
void dequantize_row_q8_K(const void* x, float* y, int64_t n);

}  // namespace plumb::gguf
