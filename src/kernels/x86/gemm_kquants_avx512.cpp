// AVX-512 GEMM tiles for the K-quants (Q4_K, Q5_K, Q6_K weights x Q8_K activations): up to
// 4 rows x 4 tokens per micro-tile; each super-block of a row is unpacked once and used for
// every token of the tile.  Same arithmetic as the vec_dot kernels in kernels_avx512.cpp.
//
// Only intrinsics and file-local functions here (see dispatch.h for why).
// GCC 12 reports the _mm*_undefined_*() placeholders inside its own intrinsic headers as
// uninitialized once they are inlined here; the warnings are false positives.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <type_traits>

#include "kernels/dispatch.h"
#include "kernels/x86/gemm_driver.h"
#include "kernels/x86/prefetch.h"
#include "kernels/kquants.h"
#include "kernels/x86/simd_math_avx2.h"

namespace plumb::kernels {

namespace {

constexpr int kTileRows = 4;
constexpr int kTileCols = 4;

// One token (a column edge of a prompt; decoding has its own one-row kernels): prefetch the
// same super-block of the row R rows ahead (the next tile) into L2.
template <typename Block, int R, int C>
inline void prefetch_next_tile(const uint8_t* w, size_t ws, int r, int64_t i) {
  if constexpr (C == 1) prefetch_l2(w + (r + R) * ws + i * sizeof(Block), sizeof(Block));
}

inline __m512i scale_index(int base, int group) {
  alignas(64) int16_t idx[32];
  for (int l = 0; l < 32; ++l) idx[l] = static_cast<int16_t>(base + l / group);
  return _mm512_load_si512(idx);
}

// Q4_K (kFiveBit false) and Q5_K (true).
template <bool kFiveBit>
struct QkAsymTile {
  using Block = std::conditional_t<kFiveBit, block_q5_K, block_q4_K>;
  template <int R, int C>
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512i idx[4];
    for (int ch = 0; ch < 4; ++ch) idx[ch] = scale_index(2 * ch, 16);
    __m512 acc[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      // Per token: the pairwise bsums (sum of each 32-element sub-block) as 8 int16.
      __m128i bs_pairs[C];
      for (int c = 0; c < C; ++c) {
        const auto* xb = reinterpret_cast<const block_q8_K*>(x + c * xs) + i;
        bs_pairs[c] = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb->bsums)),
                                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(xb->bsums + 8)));
      }
      for (int r = 0; r < R; ++r) {
        const Block* wb = reinterpret_cast<const Block*>(w + r * ws) + i;
        prefetch_next_tile<Block, R, C>(w, ws, r, i);
        uint8_t sm[16];
        avx2::unpack_k4_scales(wb->scales, sm);
        const __m512i sc16 =
            _mm512_cvtepu8_epi16(_mm256_castsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm))));
        const __m128i mins = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm + 8)));
        __m512i q[4], scl[4];
        __m512i hbits;
        if constexpr (kFiveBit) {
          const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb->qh));
          hbits = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
        }
        for (int ch = 0; ch < 4; ++ch) {
          const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb->qs + 32 * ch));
          q[ch] = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(b), _mm256_srli_epi16(b, 4), 1), m4);
          if constexpr (kFiveBit) {
            const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * ch))),
                                                   _mm256_set1_epi8(static_cast<char>(1 << (2 * ch + 1))), 1);
            q[ch] = _mm512_mask_add_epi8(q[ch], _mm512_test_epi8_mask(hbits, bit), q[ch], _mm512_set1_epi8(16));
          }
          scl[ch] = _mm512_permutexvar_epi16(idx[ch], sc16);
        }
        const float d = _cvtsh_ss(wb->d);
        const float dmin = _cvtsh_ss(wb->dmin);
        for (int c = 0; c < C; ++c) {
          const auto* xb = reinterpret_cast<const block_q8_K*>(x + c * xs) + i;
          __m512i sumi = _mm512_setzero_si512();
          for (int ch = 0; ch < 4; ++ch) {
            const __m512i p16 = _mm512_maddubs_epi16(q[ch], _mm512_loadu_si512(xb->qs + 64 * ch));
            sumi = _mm512_dpwssd_epi32(sumi, p16, scl[ch]);
          }
          const __m512i msum = _mm512_zextsi128_si512(_mm_madd_epi16(mins, bs_pairs[c]));
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), _mm512_set1_ps(d * xb->d), acc[r][c]);
          acc[r][c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_set1_ps(dmin * xb->d), acc[r][c]);
        }
      }
    }
    // Reduced here rather than in a helper taking acc by reference: an escaping acc makes GCC
    // store every accumulator to the stack on each iteration.
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) y[c * ldy + r] = _mm512_reduce_add_ps(acc[r][c]);
  }
};

struct Q6KTile {
  template <int R, int C>
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i m2 = _mm512_set1_epi8(0x03);
    const __m512i shift_lo = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    const __m512i shift_hi = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
    __m512i idx[4];
    for (int k = 0; k < 4; ++k) idx[k] = scale_index(4 * k, 8);
    __m512 acc[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      for (int r = 0; r < R; ++r) {
        const block_q6_K* wb = reinterpret_cast<const block_q6_K*>(w + r * ws) + i;
        prefetch_next_tile<block_q6_K, R, C>(w, ws, r, i);
        const __m256i sc16y = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb->scales)));
        const __m512i sc16 = _mm512_castsi256_si512(sc16y);
        __m512i q[4], scl[4];
        for (int h = 0; h < 2; ++h) {
          const __m512i ql = _mm512_loadu_si512(wb->ql + 64 * h);
          const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb->qh + 32 * h));
          const __m512i qh2 = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
          q[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                     _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh2, shift_lo), m2), 4));
          q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                         _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh2, shift_hi), m2), 4));
        }
        for (int k = 0; k < 4; ++k) scl[k] = _mm512_permutexvar_epi16(idx[k], sc16);
        const float d = _cvtsh_ss(wb->d);
        for (int c = 0; c < C; ++c) {
          const auto* xb = reinterpret_cast<const block_q8_K*>(x + c * xs) + i;
          __m512i sumi = _mm512_setzero_si512();
          for (int k = 0; k < 4; ++k) {
            const __m512i p16 = _mm512_maddubs_epi16(q[k], _mm512_loadu_si512(xb->qs + 64 * k));
            sumi = _mm512_dpwssd_epi32(sumi, p16, scl[k]);
          }
          // q is stored +32: remove 32 * sum_k sc[k] * bsums[k].
          const __m256i corr =
              _mm256_madd_epi16(sc16y, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb->bsums)));
          sumi = _mm512_sub_epi32(sumi, _mm512_slli_epi32(_mm512_zextsi256_si512(corr), 5));
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), _mm512_set1_ps(d * xb->d), acc[r][c]);
        }
      }
    }
    // Reduced here rather than in a helper taking acc by reference: an escaping acc makes GCC
    // store every accumulator to the stack on each iteration.
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) y[c * ldy + r] = _mm512_reduce_add_ps(acc[r][c]);
  }
};

template <typename Tile>
constexpr GemmFn gemm = gemm_tiles<Tile, kTileRows, kTileCols>;

}  // namespace

void install_avx512_kquant_gemm(KernelTable& t) {
  set_gemm(t, TensorType::kQ4_K, gemm<QkAsymTile<false>>);
  set_gemm(t, TensorType::kQ5_K, gemm<QkAsymTile<true>>);
  set_gemm(t, TensorType::kQ6_K, gemm<Q6KTile>);
}

}  // namespace plumb::kernels
