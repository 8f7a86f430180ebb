// AVX2 GEMM tiles for the K-quants (Q4_K, Q5_K, Q6_K weights x Q8_K activations): up to 4 rows x
// 2 tokens; each 64-element chunk of a row is unpacked once and used for both tokens.  Same
// arithmetic as the AVX2 vec_dot kernels (maddubs + madd with the 16-bit sub-block scales).
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

// One token (a column edge of a prompt; decoding has its own one-row kernels): prefetch the
// same super-block of the row R rows ahead (the next tile) into L2.
template <typename Block, int R, int C>
inline void prefetch_next_tile(const uint8_t* w, size_t ws, int r, int64_t i) {
  if constexpr (C == 1) prefetch_l2(w + (r + R) * ws + i * sizeof(Block), sizeof(Block));
}

constexpr int kTileRows = 4;
constexpr int kTileCols = 2;

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// sum_j m[j] * (bsums[2j] + bsums[2j+1]) as 4 int32 lanes.
inline __m128i mins_dot(const uint8_t* mins8, const int16_t* bsums) {
  const __m128i m = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mins8)));
  const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums));
  const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums + 8));
  return _mm_madd_epi16(m, _mm_hadd_epi16(b0, b1));
}

template <bool kFiveBit>
struct QkAsymTile {
  using Block = std::conditional_t<kFiveBit, block_q5_K, block_q4_K>;
  template <int R, int C>
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i one = _mm256_set1_epi8(1);
    __m256 acc[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      for (int r = 0; r < R; ++r) {
        const Block* wb = reinterpret_cast<const Block*>(w + r * ws) + i;
        prefetch_next_tile<Block, R, C>(w, ws, r, i);
        uint8_t sm[16];
        avx2::unpack_k4_scales(wb->scales, sm);
        __m256i sumi[C];
        for (int c = 0; c < C; ++c) sumi[c] = _mm256_setzero_si256();
        __m256i hbits = _mm256_setzero_si256();
        if constexpr (kFiveBit) hbits = load32(wb->qh);
        for (int ch = 0; ch < 4; ++ch) {
          const __m256i q = load32(wb->qs + 32 * ch);
          __m256i lo = _mm256_and_si256(q, m4);
          __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
          if constexpr (kFiveBit) {
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * ch), one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * ch + 1), one), 4));
          }
          const __m256i s_lo = _mm256_set1_epi16(sm[2 * ch]);
          const __m256i s_hi = _mm256_set1_epi16(sm[2 * ch + 1]);
          for (int c = 0; c < C; ++c) {
            const auto* xb = reinterpret_cast<const block_q8_K*>(x + c * xs) + i;
            const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load32(xb->qs + 64 * ch)), s_lo);
            const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load32(xb->qs + 64 * ch + 32)), s_hi);
            sumi[c] = _mm256_add_epi32(sumi[c], _mm256_add_epi32(pl, ph));
          }
        }
        const float d = _cvtsh_ss(wb->d);
        const float dmin = _cvtsh_ss(wb->dmin);
        for (int c = 0; c < C; ++c) {
          const auto* xb = reinterpret_cast<const block_q8_K*>(x + c * xs) + i;
          const __m256i msum = _mm256_zextsi128_si256(mins_dot(sm + 8, xb->bsums));
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[c]), _mm256_set1_ps(d * xb->d), acc[r][c]);
          acc[r][c] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin * xb->d), acc[r][c]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) y[c * ldy + r] = avx2::hsum(acc[r][c]);
  }
};

struct Q6KTile {
  template <int R, int C>
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i m2 = _mm256_set1_epi8(0x03);
    __m256 acc[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      for (int r = 0; r < R; ++r) {
        const block_q6_K* wb = reinterpret_cast<const block_q6_K*>(w + r * ws) + i;
        prefetch_next_tile<block_q6_K, R, C>(w, ws, r, i);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb->scales)));
        __m256i sumi[C];
        for (int c = 0; c < C; ++c) {
          // q is stored +32: start from -32 * sum_k sc[k] * bsums[k].
          const auto* xb = reinterpret_cast<const block_q8_K*>(x + c * xs) + i;
          sumi[c] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                     _mm256_slli_epi32(_mm256_madd_epi16(sc16, load32(xb->bsums)), 5));
        }
        for (int h = 0; h < 2; ++h) {
          const __m256i ql0 = load32(wb->ql + 64 * h);
          const __m256i ql1 = load32(wb->ql + 64 * h + 32);
          const __m256i qh = load32(wb->qh + 32 * h);
          for (int g = 0; g < 4; ++g) {
            const __m256i low = g == 0   ? _mm256_and_si256(ql0, m4)
                                : g == 1 ? _mm256_and_si256(ql1, m4)
                                : g == 2 ? _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4)
                                         : _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4);
            const __m256i high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), m2), 4);
            const __m256i q = _mm256_or_si256(low, high);
            const int8_t* sc = wb->scales + 8 * h + 2 * g;
            const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[1]), _mm_set1_epi16(sc[0]));
            for (int c = 0; c < C; ++c) {
              const auto* xb = reinterpret_cast<const block_q8_K*>(x + c * xs) + i;
              const __m256i p = _mm256_maddubs_epi16(q, load32(xb->qs + 128 * h + 32 * g));
              sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(p, s));
            }
          }
        }
        const float d = _cvtsh_ss(wb->d);
        for (int c = 0; c < C; ++c) {
          const auto* xb = reinterpret_cast<const block_q8_K*>(x + c * xs) + i;
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[c]), _mm256_set1_ps(d * xb->d), acc[r][c]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) y[c * ldy + r] = avx2::hsum(acc[r][c]);
  }
};

template <typename Tile>
constexpr GemmFn gemm = gemm_tiles<Tile, kTileRows, kTileCols>;

}  // namespace

void install_avx2_kquant_gemm(KernelTable& t) {
  set_gemm(t, TensorType::kQ4_K, gemm<QkAsymTile<false>>);
  set_gemm(t, TensorType::kQ5_K, gemm<QkAsymTile<true>>);
  set_gemm(t, TensorType::kQ6_K, gemm<Q6KTile>);
}

}  // namespace plumb::kernels
