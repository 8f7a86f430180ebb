// kernels/x86/mxfp4_unpack.h — what the AVX2 and AVX-512 MXFP4 kernels (mxfp4_avx2.cpp,
// mxfp4_avx512.cpp, matvec_mxfp4_avx512vbmi.cpp) share: the block's scale as a float, the
// exponents of a group of 8 blocks, and a block's nibbles and the value table.
//
// The kernels look nibbles up as table value + kMxfp4Bias, unsigned bytes 0..24, which
// VPMADDUBSW and VPDPBUSD take as their unsigned operand; sum(value * a) is then
// sum((value + kMxfp4Bias) * a) - kMxfp4Bias * sum(a), and sum(a) depends only on the activations.
//
// Header-only and file-local (unnamed namespace), like kquant_unpack.h: each per-ISA file that
// includes it compiles its own copy with its own target flags (AVX2 intrinsics only).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gguf/quantize.h"

namespace plumb::kernels {
namespace {

constexpr size_t kMxfp4BlockBytes = sizeof(gguf::block_mxfp4);  // 17: e, then 16 packed bytes
constexpr size_t kMxfp4GroupBytes = 8 * kMxfp4BlockBytes;          // the decode kernels' step
constexpr int kMxfp4Bias = 12;                                     // -(smallest table value)

// gguf::e8m0_to_fp32_half, inline for the kernels: 2^(e - 128), subnormal for e = 0 and 1.
inline float mxfp4_scale(uint8_t e) {
  const uint32_t bits = e < 2 ? uint32_t{0x00200000} << e : static_cast<uint32_t>(e - 1) << 23;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// The same for 8 exponents in int32 lanes (0..255): the normal encoding where e >= 2, the
// subnormal one below.
inline __m256 mxfp4_scales8(__m256i e) {
  const __m256i normal = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
  const __m256i subnormal = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e);
  return _mm256_castsi256_ps(_mm256_blendv_epi8(subnormal, normal, _mm256_cmpgt_epi32(e, _mm256_set1_epi32(1))));
}

// The exponent bytes of the 8 blocks of a group (136 bytes at g) as int32 lanes, lane j holding
// block order[j]'s.  Gathered in a general-purpose register: the integer ports are idle in these
// kernels, the vector shuffle ports are not.
inline __m256i mxfp4_group_exponents(const uint8_t* g, const int (&order)[8]) {
  uint64_t e = 0;
  for (int j = 0; j < 8; ++j) e |= uint64_t{g[order[j] * kMxfp4BlockBytes]} << (8 * j);
  return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(e)));
}

// The value table in both 128-bit halves: signed, and + kMxfp4Bias (unsigned).
inline __m256i mxfp4_signed_table() {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(gguf::kMxfp4Values)));
}
inline __m256i mxfp4_biased_table() {
  return _mm256_add_epi8(mxfp4_signed_table(), _mm256_set1_epi8(kMxfp4Bias));
}

// The 32 nibbles of the 16 packed bytes at qs in element order (low nibbles are elements 0-15,
// high ones 16-31): the bytes in both halves, the upper half shifted right by 4 within each
// dword, then masked.
inline __m256i mxfp4_nibbles(const uint8_t* qs) {
  const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  return _mm256_and_si256(_mm256_srlv_epi32(v, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(0x0F));
}

}  // namespace
}  // namespace plumb::kernels
