// AVX2 kernels for Q4_1, Q5_0 and Q5_1 weights against Q8_0 activations: a vec_dot and GEMM
// micro-tiles of up to 4 weight rows x 2 tokens (matmul, and matvec as a one-token GEMM).
//
// The weights are unpacked to unsigned bytes q (0..15 or 0..31), so _mm256_maddubs_epi16 takes
// them directly (u8 x s8, no sign trick).  Per block, with a = the token's int8 activations:
//   q4_1 / q5_1: d*dx*sum(q*a) + m*dx*sum(a)
//   q5_0:        d*dx*(sum(q*a) - 16*sum(a))        (exact in int32)
// sum(a) depends only on the token, so a tile computes it once per token and block for all rows.
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
#include "kernels/x86/gemm_driver.h"
#include "kernels/x86/simd_math_avx2.h"

namespace plumb::kernels {

namespace {

using gguf::block_q4_1;
using gguf::block_q5_0;
using gguf::block_q5_1;
using gguf::block_q8_0;

constexpr int kTileRows = 4;
constexpr int kTileCols = 2;

// The 32 nibbles of a block in element order: low nibbles are elements 0-15, high 16-31.
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m4), _mm_and_si128(b, m4));
}

// 0x10 in byte j where bit j of the little-endian 32-bit field qh is set (bit 4 of element j).
inline __m256i high_bits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  // Byte j takes byte j / 8 of h, then tests bit j % 8 of it.
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(h)), spread), bit);
  return _mm256_and_si256(_mm256_cmpeq_epi8(v, bit), _mm256_set1_epi8(0x10));
}

struct Q4_1 {
  using Block = block_q4_1;
  static constexpr bool kHasMin = true;
  static __m256i quants(const Block& b) { return unpack_nibbles(b.qs); }
};
struct Q5_0 {
  using Block = block_q5_0;
  static constexpr bool kHasMin = false;
  static __m256i quants(const Block& b) { return _mm256_or_si256(unpack_nibbles(b.qs), high_bits(b.qh)); }
};
struct Q5_1 {
  using Block = block_q5_1;
  static constexpr bool kHasMin = true;
  static __m256i quants(const Block& b) { return _mm256_or_si256(unpack_nibbles(b.qs), high_bits(b.qh)); }
};

// Weights of format F x Q8_0 activations, one block per step for R rows x C tokens.
template <typename F>
struct LegacyTile {
  using Block = typename F::Block;
  template <int R, int C>
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
    const __m256i ones8 = _mm256_set1_epi8(1);
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256 acc[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b) {
      __m256i xq[C];
      __m256i xsum[C];   // sum(a) in 8 int32 lanes of 4 activations each
      __m256 xsum_d[C];  // the same times dx (the min term's activation factor)
      float dx[C];
      for (int c = 0; c < C; ++c) {
        const auto* xb = reinterpret_cast<const block_q8_0*>(x + c * xs) + b;
        xq[c] = avx2::load_i8x32(xb->qs);
        dx[c] = _cvtsh_ss(xb->d);
        xsum[c] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, xq[c]), ones16);
        if constexpr (F::kHasMin) xsum_d[c] = _mm256_mul_ps(_mm256_cvtepi32_ps(xsum[c]), _mm256_set1_ps(dx[c]));
      }
      for (int r = 0; r < R; ++r) {
        const Block* wb = reinterpret_cast<const Block*>(w + r * ws) + b;
        const __m256i q = F::quants(*wb);
        const float dw = _cvtsh_ss(wb->d);
        for (int c = 0; c < C; ++c) {
          __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q, xq[c]), ones16);
          if constexpr (!F::kHasMin) p = _mm256_sub_epi32(p, _mm256_slli_epi32(xsum[c], 4));
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * dx[c]), acc[r][c]);
          if constexpr (F::kHasMin) acc[r][c] = _mm256_fmadd_ps(xsum_d[c], _mm256_set1_ps(_cvtsh_ss(wb->m)), acc[r][c]);
        }
      }
    }
    // Reduced here rather than in a helper taking acc by reference: an escaping acc makes GCC
    // store every accumulator to the stack on each iteration.
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) y[c * ldy + r] = avx2::hsum(acc[r][c]);
  }
};

template <typename F>
float vec_dot(int64_t n, const void* w, const void* x) {
  float y;
  LegacyTile<F>::template run<1, 1>(n, static_cast<const uint8_t*>(w), 0, static_cast<const uint8_t*>(x), 0, &y, 0);
  return y;
}

template <typename F>
void install(KernelTable& t, TensorType type) {
  t.weights[static_cast<uint32_t>(type)].vec_dot = vec_dot<F>;
  set_gemm(t, type, gemm_tiles<LegacyTile<F>, kTileRows, kTileCols>);
}

}  // namespace

void install_avx2_legacy_quants(KernelTable& t) {
  install<Q4_1>(t, TensorType::kQ4_1);
  install<Q5_0>(t, TensorType::kQ5_0);
  install<Q5_1>(t, TensorType::kQ5_1);
}

}  // namespace plumb::kernels
