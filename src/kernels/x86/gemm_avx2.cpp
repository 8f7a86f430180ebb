// AVX2 GEMM tiles for matmul on CPUs without AVX-512: micro-tiles of up to 4 weight rows x 2
// tokens (8 accumulators; AVX2 has 16 vector registers) for q4_0, q8_0, f32, f16 and bf16.
//
// Only intrinsics and file-local functions here (see dispatch.h for why).
// GCC 12 reports the _mm*_undefined_*() placeholders inside its own intrinsic headers as
// uninitialized once they are inlined here; the warnings are false positives.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include "gguf/quantize.h"
#include "kernels/dispatch.h"
#include "kernels/x86/gemm_driver.h"
#include "kernels/x86/simd_math_avx2.h"

namespace plumb::kernels {

namespace {

using gguf::block_q4_0;
using gguf::block_q8_0;

constexpr int kTileRows = 4;
constexpr int kTileCols = 2;

inline __m256i unpack_q4_0(const uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  return _mm256_sub_epi8(_mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m4), _mm_and_si128(b, m4)),
                         _mm256_set1_epi8(8));
}

// Signed int8 weights (q4_0 - 8, or q8_0) x q8_0 activations, one block per step: |w| as the
// unsigned maddubs operand and w's sign moved onto x.
template <bool kFourBit>
struct QuantTile {
  template <int R, int C>
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b) {
      __m256i xq[C];
      float dx[C];
      for (int c = 0; c < C; ++c) {
        const auto* xb = reinterpret_cast<const block_q8_0*>(x + c * xs) + b;
        xq[c] = avx2::load_i8x32(xb->qs);
        dx[c] = _cvtsh_ss(xb->d);
      }
      for (int r = 0; r < R; ++r) {
        __m256i q;
        float dw;
        if constexpr (kFourBit) {
          const auto* wb = reinterpret_cast<const block_q4_0*>(w + r * ws) + b;
          q = unpack_q4_0(wb->qs);
          dw = _cvtsh_ss(wb->d);
        } else {
          const auto* wb = reinterpret_cast<const block_q8_0*>(w + r * ws) + b;
          q = avx2::load_i8x32(wb->qs);
          dw = _cvtsh_ss(wb->d);
        }
        const __m256i aq = _mm256_sign_epi8(q, q);
        for (int c = 0; c < C; ++c) {
          const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aq, _mm256_sign_epi8(xq[c], q)), ones);
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * dx[c]), acc[r][c]);
        }
      }
    }
    // Reduced here rather than in a helper taking acc by reference: an escaping acc makes GCC
    // store every accumulator to the stack on each iteration.
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) y[c * ldy + r] = avx2::hsum(acc[r][c]);
  }
};

template <int kKind>  // 0 f32, 1 f16, 2 bf16
struct FloatTile {
  static __m256 load_w(const uint8_t* row, int64_t i) {
    if constexpr (kKind == 0) {
      return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
    } else if constexpr (kKind == 1) {
      return avx2::load_f16(reinterpret_cast<const uint16_t*>(row) + i);
    } else {
      return avx2::load_bf16(reinterpret_cast<const uint16_t*>(row) + i);
    }
  }
  static float load_w1(const uint8_t* row, int64_t i) {
    if constexpr (kKind == 0) {
      return reinterpret_cast<const float*>(row)[i];
    } else if constexpr (kKind == 1) {
      return _cvtsh_ss(reinterpret_cast<const uint16_t*>(row)[i]);
    } else {
      return _mm_cvtss_f32(_mm_castsi128_ps(
          _mm_cvtsi32_si128(static_cast<int>(static_cast<uint32_t>(reinterpret_cast<const uint16_t*>(row)[i]) << 16))));
    }
  }
  template <int R, int C>
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
    __m256 acc[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      __m256 xv[C];
      for (int c = 0; c < C; ++c) xv[c] = _mm256_loadu_ps(reinterpret_cast<const float*>(x + c * xs) + i);
      for (int r = 0; r < R; ++r) {
        const __m256 wv = load_w(w + r * ws, i);
        for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(wv, xv[c], acc[r][c]);
      }
    }
    // Reduced here rather than in a helper taking acc by reference: an escaping acc makes GCC
    // store every accumulator to the stack on each iteration.
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) y[c * ldy + r] = avx2::hsum(acc[r][c]);
    for (; i < n; ++i)
      for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) y[c * ldy + r] += load_w1(w + r * ws, i) * reinterpret_cast<const float*>(x + c * xs)[i];
  }
};

template <typename Tile>
constexpr GemmFn gemm = gemm_tiles<Tile, kTileRows, kTileCols>;

}  // namespace

void install_avx2_gemm(KernelTable& t) {
  set_gemm(t, TensorType::kQ4_0, gemm<QuantTile<true>>);
  set_gemm(t, TensorType::kQ8_0, gemm<QuantTile<false>>);
  set_gemm(t, TensorType::kF32, gemm<FloatTile<0>>);
  set_gemm(t, TensorType::kF16, gemm<FloatTile<1>>);
  set_gemm(t, TensorType::kBF16, gemm<FloatTile<2>>);
}

}  // namespace plumb::kernels
