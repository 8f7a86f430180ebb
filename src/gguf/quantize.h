// gguf/quantize.h — scalar reference block formats and row conversions, exactly as ggml
// defines them (ggml-common.h block layouts, ggml-quants.c quantize_row_*_ref).  The writer
// uses them to produce files; kernels/ uses the block structs and tests compare SIMD code
// against these.
#pragma once

#include <cstdint>

#include "plumb/status.h"
#include "plumb/tensor_type.h"

namespace plumb::gguf {

inline constexpr int kQK8_0 = 32;
inline constexpr int kQK4_0 = 32;
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK_MXFP4 = 32;

// 32 elements: value[j] = qs[j] * fp16(d).
struct block_q8_0 {
  uint16_t d;  // scale, IEEE fp16 bits
  int8_t qs[kQK8_0];
};
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 must match ggml's layout");

// 32 elements: qs[j] low nibble is element j, high nibble element j+16;
// value = (nibble - 8) * fp16(d).
struct block_q4_0 {
  uint16_t d;  // scale, IEEE fp16 bits
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 must match ggml's layout");

// 32 elements, nibbles as in q4_0; value = nibble * fp16(d) + fp16(m).
struct block_q4_1 {
  uint16_t d;  // scale, IEEE fp16 bits
  uint16_t m;  // minimum, IEEE fp16 bits
  uint8_t qs[kQK4_1 / 2];
};
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 must match ggml's layout");

// 32 elements of 5 bits: the low 4 bits are nibbles as in q4_0, and bit j of the little-endian
// uint32 in qh is bit 4 of element j; value = (q - 16) * fp16(d).
struct block_q5_0 {
  uint16_t d;  // scale, IEEE fp16 bits
  uint8_t qh[4];
  uint8_t qs[kQK5_0 / 2];
};
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 must match ggml's layout");

// As q5_0 with a minimum instead of the offset 16: value = q * fp16(d) + fp16(m).
struct block_q5_1 {
  uint16_t d;  // scale, IEEE fp16 bits
  uint16_t m;  // minimum, IEEE fp16 bits
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 must match ggml's layout");

// MXFP4 (OCP microscaling, 4-bit E2M1 elements; gpt-oss stores its experts in it): 32 elements
// sharing a power-of-two scale.  Nibbles as in q4_0; value = kMxfp4Values[nibble] *
// e8m0_to_fp32_half(e).  The table holds twice the E2M1 values (0, 0.5, 1, 1.5, 2, 3, 4, 6 and
// their negatives), so that they are integers, and the scale is halved to match, as ggml does.
struct block_mxfp4 {
  uint8_t e;  // E8M0 exponent: the scale is 2^(e - 127), halved
  uint8_t qs[kQK_MXFP4 / 2];
};
static_assert(sizeof(block_mxfp4) == 17, "block_mxfp4 must match ggml's layout");

inline constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// 2^(e - 128) as a float, bit for bit as ggml's ggml_e8m0_to_fp32_half: subnormal for e = 0 and
// 1, exact for every e.
float e8m0_to_fp32_half(uint8_t e);

// REQUIRES for the block formats: n % 32 == 0.  y/x point to n / 32 blocks.
void quantize_row_q8_0(const float* x, void* y, int64_t n);
void dequantize_row_q8_0(const void* x, float* y, int64_t n);
void quantize_row_q4_0(const float* x, void* y, int64_t n);
void dequantize_row_q4_0(const void* x, float* y, int64_t n);
// q4_1 / q5_1: d = (max - min) / 15 (or 31), m = min of the block; q5_0: d = (signed value of
// largest magnitude) / -16, as q4_0 with 5 bits.
void quantize_row_q4_1(const float* x, void* y, int64_t n);
void dequantize_row_q4_1(const void* x, float* y, int64_t n);
void quantize_row_q5_0(const float* x, void* y, int64_t n);
void dequantize_row_q5_0(const void* x, float* y, int64_t n);
void quantize_row_q5_1(const float* x, void* y, int64_t n);
void dequantize_row_q5_1(const void* x, float* y, int64_t n);
// mxfp4: e = floor(log2 amax) - 2 + 127 from the block's largest magnitude (amax then lies
// between 8 and 16 times the halved scale, and ggml clips what lies above the table's 12), then
// each element to the table value nearest x / scale, the lowest index on ties (so 0 is always
// nibble 0, never 8).
void quantize_row_mxfp4(const float* x, void* y, int64_t n);
void dequantize_row_mxfp4(const void* x, float* y, int64_t n);
// Element formats; y/x point to n uint16_t (possibly unaligned).
void quantize_row_f16(const float* x, void* y, int64_t n);
void dequantize_row_f16(const void* x, float* y, int64_t n);
void quantize_row_bf16(const float* x, void* y, int64_t n);
void dequantize_row_bf16(const void* x, float* y, int64_t n);

// True for the types quantize_row/dequantize_row handle: F32, F16, BF16, Q8_0, Q4_0, Q4_1,
// Q5_0, Q5_1, MXFP4 and the K-quants Q4_K, Q5_K, Q6_K (gguf/kquants.h).
bool can_convert(TensorType type);
// Converts n floats to `type` (a run of blocks).  Unsupported for other types,
// InvalidArgument when n is not a multiple of the block size.
Status quantize_row(TensorType type, const float* x, void* y, int64_t n);
Status dequantize_row(TensorType type, const void* x, float* y, int64_t n);

}  // namespace plumb::gguf
