// AVX-512 (F, BW, VL, DQ, VNNI) kernels.  Integer dot products use VPDPBUSD (u8 x s8 summed
// into int32) and, for the K-quants, VPMADDUBSW + VPDPWSSD to apply the 16-bit sub-block
// scales.  Everything not defined here comes from the AVX2 level.
//
// Only intrinsics and file-local functions here (see dispatch.h for why).
// GCC 12 reports the _mm*_undefined_*() placeholders inside its own intrinsic headers as
// uninitialized once they are inlined here; the warnings are false positives.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <cstring>

#include "gguf/quantize.h"
#include "kernels/dispatch.h"
#include "kernels/kquants.h"
#include "kernels/x86/simd_math_avx2.h"

namespace plumb::kernels {

namespace {

using gguf::block_q4_0;
using gguf::block_q8_0;

inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

inline __m512 load_f16x16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load_bf16x16(const uint16_t* p) {
  const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

inline float bf16_scalar(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float vec_dot_f32(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const float*>(vw);
  const auto* x = static_cast<const float*>(vx);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 32), _mm512_loadu_ps(x + i + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 48), _mm512_loadu_ps(x + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, x + i), a1);
  }
  return hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

float vec_dot_f16(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const uint16_t*>(vw);
  const auto* x = static_cast<const float*>(vx);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps(load_f16x16(w + i), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(load_f16x16(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    a2 = _mm512_fmadd_ps(load_f16x16(w + i + 32), _mm512_loadu_ps(x + i + 32), a2);
    a3 = _mm512_fmadd_ps(load_f16x16(w + i + 48), _mm512_loadu_ps(x + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(load_f16x16(w + i), _mm512_loadu_ps(x + i), a0);
  float sum = hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  for (; i < n; ++i) sum += _cvtsh_ss(w[i]) * x[i];
  return sum;
}

float vec_dot_bf16(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const uint16_t*>(vw);
  const auto* x = static_cast<const float*>(vx);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps(load_bf16x16(w + i), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(load_bf16x16(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    a2 = _mm512_fmadd_ps(load_bf16x16(w + i + 32), _mm512_loadu_ps(x + i + 32), a2);
    a3 = _mm512_fmadd_ps(load_bf16x16(w + i + 48), _mm512_loadu_ps(x + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(load_bf16x16(w + i), _mm512_loadu_ps(x + i), a0);
  float sum = hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  for (; i < n; ++i) sum += bf16_scalar(w[i]) * x[i];
  return sum;
}

// Two consecutive 34-byte q8_0 (or any 32-byte) payloads as one 64-byte vector.
inline __m512i load_2x32(const void* a, const void* b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(static_cast<const __m256i*>(a))),
                            _mm256_loadu_si256(static_cast<const __m256i*>(b)), 1);
}

// [s0 x8 lanes, s1 x8 lanes] for the two blocks in a vector.
inline __m512 scales_2(float s0, float s1) {
  return _mm512_insertf32x8(_mm512_set1_ps(s0), _mm256_set1_ps(s1), 1);
}

// Signed int8 dot of 64 lanes into 16 int32 (4 lanes each): VPDPBUSD wants u8 x s8, so take
// |w| and move w's sign onto x.
inline __m512i dot_i8(__m512i w, __m512i x) {
  const __mmask64 neg = _mm512_movepi8_mask(w);
  const __m512i sx = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(w), sx);
}

float vec_dot_q8_0_q8_0(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q8_0*>(vw);
  const auto* x = static_cast<const block_q8_0*>(vx);
  const int64_t nb = n / gguf::kQK8_0;
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 4 <= nb; i += 4) {
    const __m512i p0 = dot_i8(load_2x32(w[i].qs, w[i + 1].qs), load_2x32(x[i].qs, x[i + 1].qs));
    const __m512i p1 = dot_i8(load_2x32(w[i + 2].qs, w[i + 3].qs), load_2x32(x[i + 2].qs, x[i + 3].qs));
    const __m512 s0 = scales_2(_cvtsh_ss(w[i].d) * _cvtsh_ss(x[i].d), _cvtsh_ss(w[i + 1].d) * _cvtsh_ss(x[i + 1].d));
    const __m512 s1 =
        scales_2(_cvtsh_ss(w[i + 2].d) * _cvtsh_ss(x[i + 2].d), _cvtsh_ss(w[i + 3].d) * _cvtsh_ss(x[i + 3].d));
    acc0 = _mm512_fmadd_ps(s0, _mm512_cvtepi32_ps(p0), acc0);
    acc1 = _mm512_fmadd_ps(s1, _mm512_cvtepi32_ps(p1), acc1);
  }
  float sum = hsum512(_mm512_add_ps(acc0, acc1));
  for (; i < nb; ++i) {
    const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs));
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
    const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq));
    sum += _cvtsh_ss(w[i].d) * _cvtsh_ss(x[i].d) * static_cast<float>(avx2::hsum_i32(p));
  }
  return sum;
}

// Two q4_0 blocks as 64 unsigned nibbles in element order: [b0 lo, b0 hi, b1 lo, b1 hi].
inline __m512i unpack_q4_0x2(const uint8_t* qs0, const uint8_t* qs1) {
  const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs0));
  const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs1));
  const __m256i t0 = _mm256_set_m128i(_mm_srli_epi16(b0, 4), b0);
  const __m256i t1 = _mm256_set_m128i(_mm_srli_epi16(b1, 4), b1);
  return _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(t0), t1, 1), _mm512_set1_epi8(0x0F));
}

float vec_dot_q4_0_q8_0(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q4_0*>(vw);
  const auto* x = static_cast<const block_q8_0*>(vx);
  const int64_t nb = n / gguf::kQK4_0;
  const __m512i eight = _mm512_set1_epi8(8);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  // sum (q - 8) * x = sum q * x - sum 8 * x, both with VPDPBUSD on unsigned q.
  for (; i + 2 <= nb; i += 2) {
    const __m512i q = unpack_q4_0x2(w[i].qs, w[i + 1].qs);
    const __m512i xq = load_2x32(x[i].qs, x[i + 1].qs);
    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, xq);
    const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, xq);
    const __m512 sc = scales_2(_cvtsh_ss(w[i].d) * _cvtsh_ss(x[i].d), _cvtsh_ss(w[i + 1].d) * _cvtsh_ss(x[i + 1].d));
    if ((i & 2) == 0) {
      acc0 = _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(_mm512_sub_epi32(p, s)), acc0);
    } else {
      acc1 = _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(_mm512_sub_epi32(p, s)), acc1);
    }
  }
  float sum = hsum512(_mm512_add_ps(acc0, acc1));
  for (; i < nb; ++i) {
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j)
      isum += ((w[i].qs[j] & 0xF) - 8) * x[i].qs[j] + ((w[i].qs[j] >> 4) - 8) * x[i].qs[j + 16];
    sum += _cvtsh_ss(w[i].d) * _cvtsh_ss(x[i].d) * static_cast<float>(isum);
  }
  return sum;
}

// Permutation indices that broadcast 16-bit scale s[base + lane / group] over 32 lanes.
inline __m512i scale_index(int base, int group) {
  alignas(64) int16_t idx[32];
  for (int l = 0; l < 32; ++l) idx[l] = static_cast<int16_t>(base + l / group);
  return _mm512_load_si512(idx);
}

// Q4_K / Q5_K share the shape: per chunk c of 64 elements (sub-blocks 2c, 2c+1) the values
// q (0..15 or 0..31) meet x through VPMADDUBSW (pairs, int16) and VPDPWSSD with the scales.
template <bool kFiveBit, typename Block>
float vec_dot_qk_asym(int64_t n, const Block* w, const block_q8_K* x) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512i idx[4];
  for (int c = 0; c < 4; ++c) idx[c] = scale_index(2 * c, 16);
  __m512 acc = _mm512_setzero_ps();
  float mins_sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sm[16];
    avx2::unpack_k4_scales(w[i].scales, sm);
    const __m512i sc16 = _mm512_cvtepu8_epi16(_mm256_castsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm))));
    // sum_j m[j] * (bsums[2j] + bsums[2j+1])
    const __m128i mins = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm + 8)));
    const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].bsums));
    const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].bsums + 8));
    const __m128i mprod = _mm_madd_epi16(mins, _mm_hadd_epi16(b0, b1));
    __m512i sumi = _mm512_setzero_si512();
    __m512i hbits;
    if constexpr (kFiveBit) {
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qh));
      hbits = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
    }
    for (int c = 0; c < 4; ++c) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs + 32 * c));
      __m512i v = _mm512_and_si512(
          _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1), m4);
      if constexpr (kFiveBit) {
        // Lanes 0-31 take bit 2c of qh, lanes 32-63 bit 2c+1.
        const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * c))),
                                               _mm256_set1_epi8(static_cast<char>(1 << (2 * c + 1))), 1);
        const __mmask64 k = _mm512_test_epi8_mask(hbits, bit);
        v = _mm512_mask_add_epi8(v, k, v, _mm512_set1_epi8(16));
      }
      const __m512i xq = _mm512_loadu_si512(x[i].qs + 64 * c);
      const __m512i p16 = _mm512_maddubs_epi16(v, xq);
      sumi = _mm512_dpwssd_epi32(sumi, p16, _mm512_permutexvar_epi16(idx[c], sc16));
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(x[i].d * _cvtsh_ss(w[i].d)), _mm512_cvtepi32_ps(sumi), acc);
    mins_sum += x[i].d * _cvtsh_ss(w[i].dmin) * static_cast<float>(avx2::hsum_i32(mprod));
  }
  return hsum512(acc) - mins_sum;
}

float vec_dot_q4_K_q8_K(int64_t n, const void* w, const void* x) {
  return vec_dot_qk_asym<false>(n, static_cast<const block_q4_K*>(w), static_cast<const block_q8_K*>(x));
}
float vec_dot_q5_K_q8_K(int64_t n, const void* w, const void* x) {
  return vec_dot_qk_asym<true>(n, static_cast<const block_q5_K*>(w), static_cast<const block_q8_K*>(x));
}

float vec_dot_q6_K_q8_K(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q6_K*>(vw);
  const auto* x = static_cast<const block_q8_K*>(vx);
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i m2 = _mm512_set1_epi8(0x03);
  // Per 16-bit lane shift counts: first half of the vector takes one 2-bit field of qh, the
  // second half the next.
  const __m512i shift_lo = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
  const __m512i shift_hi = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
  __m512i idx[4];
  for (int k = 0; k < 4; ++k) idx[k] = scale_index(4 * k, 8);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const __m256i sc16y = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i].scales)));
    const __m512i sc16 = _mm512_castsi256_si512(sc16y);
    const __m256i corr =
        _mm256_madd_epi16(sc16y, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].bsums)));
    __m512i sumi = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(w[i].ql + 64 * h);
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qh + 32 * h));
      const __m512i qh2 = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
      const __m512i h_lo = _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh2, shift_lo), m2), 4);
      const __m512i h_hi = _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh2, shift_hi), m2), 4);
      const __m512i q_lo = _mm512_or_si512(_mm512_and_si512(ql, m4), h_lo);
      const __m512i q_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), h_hi);
      const __m512i p_lo = _mm512_maddubs_epi16(q_lo, _mm512_loadu_si512(x[i].qs + 128 * h));
      const __m512i p_hi = _mm512_maddubs_epi16(q_hi, _mm512_loadu_si512(x[i].qs + 128 * h + 64));
      sumi = _mm512_dpwssd_epi32(sumi, p_lo, _mm512_permutexvar_epi16(idx[2 * h], sc16));
      sumi = _mm512_dpwssd_epi32(sumi, p_hi, _mm512_permutexvar_epi16(idx[2 * h + 1], sc16));
    }
    sumi = _mm512_sub_epi32(sumi, _mm512_slli_epi32(_mm512_zextsi256_si512(corr), 5));
    acc = _mm512_fmadd_ps(_mm512_set1_ps(x[i].d * _cvtsh_ss(w[i].d)), _mm512_cvtepi32_ps(sumi), acc);
  }
  return hsum512(acc);
}

void set_dot(KernelTable& t, TensorType type, VecDotFn dot) { t.weights[static_cast<uint32_t>(type)].vec_dot = dot; }

}  // namespace

void install_avx512_kernels(KernelTable& t) {
  using T = TensorType;
  set_dot(t, T::kF32, vec_dot_f32);
  set_dot(t, T::kF16, vec_dot_f16);
  set_dot(t, T::kBF16, vec_dot_bf16);
  set_dot(t, T::kQ8_0, vec_dot_q8_0_q8_0);
  set_dot(t, T::kQ4_0, vec_dot_q4_0_q8_0);
  set_dot(t, T::kQ4_K, vec_dot_q4_K_q8_K);
  set_dot(t, T::kQ5_K, vec_dot_q5_K_q8_K);
  set_dot(t, T::kQ6_K, vec_dot_q6_K_q8_K);
}

}  // namespace plumb::kernels
