// kernels/x86/kquant_unpack.h — one K-quant super-block as 256 unsigned bytes in element order
// plus its raw scales, for the panel repacks (matmul_panel_kquants_avx2.cpp, _avx512.cpp),
// which then lay the values and scales out each in their own way.
//
// Header-only and file-local (unnamed namespace), like gemm_driver.h: each per-ISA file that
// includes it compiles its own copy with its own target flags (AVX2 intrinsics only), so no
// AVX-compiled copy can be merged into another translation unit.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/kquants.h"
#include "kernels/x86/simd_math_avx2.h"

namespace plumb::kernels {
namespace {

// The scales of one super-block: q4_K/q5_K have 8 sub-blocks of 32 with 6-bit scales sc and
// mins m (x = d * sc * q - dmin * m); q6_K has 16 sub-blocks of 16 with int8 scales (x = d * sc *
// (q - 32), q kept as stored, 0..63) and no mins (dmin 0).
struct SuperBlockScales {
  int16_t sc[16];
  uint8_t m[8];
  float d;
  float dmin;
};

// Super-block i of a q4_K / q5_K row into u[256] (0..15 / 0..31).
template <typename Block>
inline void unpack_superblock_asym(const uint8_t* row, int64_t i, uint8_t* u, SuperBlockScales& s) {
  constexpr bool kFive = sizeof(Block) == sizeof(block_q5_K);
  const Block* b = reinterpret_cast<const Block*>(row) + i;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  // qs[32c + l]: low nibble element 64c + l (sub-block 2c), high nibble 64c + 32 + l.
  __m256i qh = _mm256_setzero_si256();
  if constexpr (kFive) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh));
  for (int c = 0; c < 4; ++c) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs + 32 * c));
    __m256i lo = _mm256_and_si256(v, m4);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    if constexpr (kFive) {
      // qh[l] bit j is the fifth bit of element l of sub-block j.
      const __m256i bit_lo = _mm256_set1_epi8(static_cast<char>(1 << (2 * c)));
      const __m256i bit_hi = _mm256_set1_epi8(static_cast<char>(1 << (2 * c + 1)));
      const __m256i sixteen = _mm256_set1_epi8(16);
      lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_lo), bit_lo), sixteen));
      hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_hi), bit_hi), sixteen));
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(u + 64 * c), lo);
    _mm256_store_si256(reinterpret_cast<__m256i*>(u + 64 * c + 32), hi);
  }
  uint8_t sm[16];
  avx2::unpack_k4_scales(b->scales, sm);
  for (int j = 0; j < 8; ++j) {
    s.sc[j] = sm[j];
    s.m[j] = sm[8 + j];
  }
  s.d = _cvtsh_ss(b->d);
  s.dmin = _cvtsh_ss(b->dmin);
}

// Super-block i of a q6_K row into u[256] (the stored q + 32, 0..63).
inline void unpack_superblock_q6_K(const uint8_t* row, int64_t i, uint8_t* u, SuperBlockScales& s) {
  const block_q6_K* b = reinterpret_cast<const block_q6_K*>(row) + i;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i m2 = _mm256_set1_epi8(0x03);
  for (int h = 0; h < 2; ++h) {
    // Element 128h + 32p + l: 4 low bits from ql (l: p = 0 low, 2 high nibble; l + 32: p = 1,
    // 3), 2 high bits from qh[32h + l] bits 2p, 2p + 1.
    const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->ql + 64 * h));
    const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->ql + 64 * h + 32));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh + 32 * h));
    const __m256i low[4] = {_mm256_and_si256(ql0, m4), _mm256_and_si256(ql1, m4),
                            _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                            _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4)};
    for (int p = 0; p < 4; ++p) {
      const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), m2);
      _mm256_store_si256(reinterpret_cast<__m256i*>(u + 128 * h + 32 * p),
                         _mm256_or_si256(low[p], _mm256_slli_epi16(high, 4)));
    }
  }
  for (int k = 0; k < 16; ++k) s.sc[k] = b->scales[k];
  for (int k = 0; k < 8; ++k) s.m[k] = 0;
  s.d = _cvtsh_ss(b->d);
  s.dmin = 0.0f;
}

}  // namespace
}  // namespace plumb::kernels
