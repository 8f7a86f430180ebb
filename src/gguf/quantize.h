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
// Element formats; y/x point to n uint16_t (possibly unaligned).
void quantize_row_f16(const float* x, void* y, int64_t n);
void dequantize_row_f16(const void* x, float* y, int64_t n);
void quantize_row_bf16(const float* x, void* y, int64_t n);
void dequantize_row_bf16(const void* x, float* y, int64_t n);

// True for the types quantize_row/dequantize_row handle: F32, F16, BF16, Q8_0, Q4_0, Q4_1,
// Q5_0, Q5_1 and the K-quants Q4_K, Q5_K, Q6_K (gguf/kquants.h).
bool can_convert(TensorType type);
// Converts n floats to `type` (a run of blocks).  Unsupported for other types,
// InvalidArgument when n is not a multiple of the block size.
Status quantize_row(TensorType type, const float* x, void* y, int64_t n);
Status dequantize_row(TensorType type, const void* x, float* y, int64_t n);

}  // namespace plumb::gguf
