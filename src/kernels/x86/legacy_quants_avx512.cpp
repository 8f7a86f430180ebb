// AVX-512 (VNNI) kernels for Q4_1, Q5_0 and Q5_1 weights against Q8_0 activations: GEMM
// micro-tiles of up to 4 weight rows x 4 tokens, two blocks per 512-bit step, and a vec_dot.
//
// Weights are unpacked to unsigned bytes q (0..15 or 0..31) for VPDPBUSD (u8 x s8).  Per block,
// with a = the token's int8 activations:
//   q4_1 / q5_1: d*dx*sum(q*a) + m*dx*sum(a)
//   q5_0:        d*dx*(sum(q*a) - 16*sum(a)), with -16*sum(a) as the VPDPBUSD accumulator's start
// sum(a) depends only on the token, so a tile computes it once per token and block pair.
//
// Two blocks b0, b1 sit in 128-bit lanes [b0 low nibbles, b1 low, b0 high, b1 high] (cheap to
// unpack); the activations are permuted to that order once per token.  Bit 4 of the 5-bit
// formats is added through a byte mask built from the two qh fields.
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

namespace plumb::kernels {

namespace {

using gguf::block_q4_1;
using gguf::block_q5_0;
using gguf::block_q5_1;
using gguf::block_q8_0;

constexpr int kTileRows = 4;
constexpr int kTileCols = 4;

inline __m512i load_2x32(const void* a, const void* b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(static_cast<const __m256i*>(a))),
                            _mm256_loadu_si256(static_cast<const __m256i*>(b)), 1);
}

// [s0 x4, s1 x4, s0 x4, s1 x4]: per-lane values for the two-block lane order above.
inline __m512 per_lane(float s0, float s1) {
  const __m256 h = _mm256_insertf128_ps(_mm256_set1_ps(s0), _mm_set1_ps(s1), 1);
  return _mm512_insertf32x8(_mm512_castps256_ps512(h), h, 1);
}

// The nibbles of two blocks in the lane order [b0 lo, b1 lo, b0 hi, b1 hi].
inline __m512i unpack_nibbles_x2(const uint8_t* qs0, const uint8_t* qs1) {
  const __m256i t = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs0))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs1)), 1);
  return _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(t), _mm256_srli_epi16(t, 4), 1),
                          _mm512_set1_epi8(0x0F));
}

// Adds 16 to the bytes whose bit 4 is set in qh0 / qh1 (bit j of a block's little-endian qh is
// element j's), in the same lane order: elements 0-15 of b0, of b1, then 16-31 of b0, of b1.
inline __m512i add_high_bits_x2(__m512i q, const uint8_t* qh0, const uint8_t* qh1) {
  uint32_t h0, h1;
  std::memcpy(&h0, qh0, 4);
  std::memcpy(&h1, qh1, 4);
  const uint64_t k = (h0 & 0xFFFFull) | (uint64_t{h1 & 0xFFFFu} << 16) | (uint64_t{h0 >> 16} << 32) |
                     (uint64_t{h1 >> 16} << 48);
  return _mm512_mask_add_epi8(q, _cvtu64_mask64(k), q, _mm512_set1_epi8(0x10));
}

struct Q4_1 {
  using Block = block_q4_1;
  static constexpr bool kHasMin = true;
  static __m512i quants(const Block& b0, const Block& b1) { return unpack_nibbles_x2(b0.qs, b1.qs); }
};
struct Q5_0 {
  using Block = block_q5_0;
  static constexpr bool kHasMin = false;
  static __m512i quants(const Block& b0, const Block& b1) {
    return add_high_bits_x2(unpack_nibbles_x2(b0.qs, b1.qs), b0.qh, b1.qh);
  }
};
struct Q5_1 {
  using Block = block_q5_1;
  static constexpr bool kHasMin = true;
  static __m512i quants(const Block& b0, const Block& b1) {
    return add_high_bits_x2(unpack_nibbles_x2(b0.qs, b1.qs), b0.qh, b1.qh);
  }
};

// Weights of format F x Q8_0 activations, two blocks per step for R rows x C tokens.  An odd
// last block is paired with itself and its second copy weighted 0 through the activation scale.
template <typename F>
struct LegacyTile {
  using Block = typename F::Block;
  template <int R, int C, bool kTail>
  static inline __attribute__((always_inline)) void step(int64_t b, const uint8_t* w, size_t ws, const uint8_t* x,
                                                          size_t xs, __m512 (&acc)[R][C]) {
    const int64_t b1 = kTail ? b : b + 1;
    __m512i xq[C];
    __m512i start[C];  // q5_0: -16 * sum(a) per lane; otherwise unused
    __m512 xsum_d[C];  // q4_1 / q5_1: sum(a) * dx per lane
    __m512 dx[C];
    for (int c = 0; c < C; ++c) {
      const auto* xb = reinterpret_cast<const block_q8_0*>(x + c * xs);
      const __m512i xe = load_2x32(xb[b].qs, xb[b1].qs);  // [x0 lo, x0 hi, x1 lo, x1 hi]
      xq[c] = _mm512_shuffle_i64x2(xe, xe, _MM_SHUFFLE(3, 1, 2, 0));
      dx[c] = per_lane(_cvtsh_ss(xb[b].d), kTail ? 0.0f : _cvtsh_ss(xb[b1].d));
      const __m512i xsum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), xq[c]);
      if constexpr (F::kHasMin) {
        xsum_d[c] = _mm512_mul_ps(_mm512_cvtepi32_ps(xsum), dx[c]);
      } else {
        start[c] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(xsum, 4));
      }
    }
    for (int r = 0; r < R; ++r) {
      const Block* wb = reinterpret_cast<const Block*>(w + r * ws);
      const __m512i q = F::quants(wb[b], wb[b1]);
      const __m512 dw = per_lane(_cvtsh_ss(wb[b].d), _cvtsh_ss(wb[b1].d));
      __m512 mw;
      if constexpr (F::kHasMin) mw = per_lane(_cvtsh_ss(wb[b].m), _cvtsh_ss(wb[b1].m));
      for (int c = 0; c < C; ++c) {
        const __m512i p = _mm512_dpbusd_epi32(F::kHasMin ? _mm512_setzero_si512() : start[c], q, xq[c]);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw, dx[c]), acc[r][c]);
        if constexpr (F::kHasMin) acc[r][c] = _mm512_fmadd_ps(xsum_d[c], mw, acc[r][c]);
      }
    }
  }
  template <int R, int C>
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
    const int64_t nb = n / 32;
    __m512 acc[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) step<R, C, false>(b, w, ws, x, xs, acc);
    if (b < nb) step<R, C, true>(b, w, ws, x, xs, acc);
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) y[c * ldy + r] = _mm512_reduce_add_ps(acc[r][c]);
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

void install_avx512_legacy_quants(KernelTable& t) {
  install<Q4_1>(t, TensorType::kQ4_1);
  install<Q5_0>(t, TensorType::kQ5_0);
  install<Q5_1>(t, TensorType::kQ5_1);
}

}  // namespace plumb::kernels
