// AVX-512 GEMM tiles for matmul (prompt processing): a micro-tile of up to 4 weight rows x 4
// tokens keeps 16 accumulators in registers, so each unpacked weight vector is reused for 4
// tokens and each activation vector for 4 rows (a vec_dot per pair would redo both).
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

namespace plumb::kernels {

namespace {

using gguf::block_q4_0;
using gguf::block_q8_0;

constexpr int kTileRows = 4;
constexpr int kTileCols = 4;

inline __m512i load_2x32(const void* a, const void* b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(static_cast<const __m256i*>(a))),
                            _mm256_loadu_si256(static_cast<const __m256i*>(b)), 1);
}

// [s0 x8, s1 x8]: per-lane scales for two blocks in element order.
inline __m512 scales_2(float s0, float s1) { return _mm512_insertf32x8(_mm512_set1_ps(s0), _mm256_set1_ps(s1), 1); }

// [s0 x4, s1 x4, s0 x4, s1 x4]: per-lane scales for the q4_0 lane order below.
inline __m512 scales_interleaved(float s0, float s1) {
  const __m256 h = _mm256_insertf128_ps(_mm256_set1_ps(s0), _mm_set1_ps(s1), 1);
  return _mm512_insertf32x8(_mm512_castps256_ps512(h), h, 1);
}

// Two q4_0 blocks as 64 unsigned nibbles in 128-bit lanes [b0 lo, b1 lo, b0 hi, b1 hi] (cheaper
// than element order; the activations are permuted to match once per token instead).
inline __m512i unpack_q4_0x2_lanes(const uint8_t* qs0, const uint8_t* qs1) {
  const __m256i t = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs0))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs1)), 1);
  return _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(t), _mm256_srli_epi16(t, 4), 1),
                          _mm512_set1_epi8(0x0F));
}

// Reduces four int32 vectors p0..p3 to one whose lane 4L + c is the sum of p_c's four lanes in
// 128-bit lane L (an unpack/add transpose), so the float work per block is done once for four
// tokens instead of once per token.
inline __m512i reduce4_lanes(__m512i p0, __m512i p1, __m512i p2, __m512i p3) {
  const __m512i t01 = _mm512_add_epi32(_mm512_unpacklo_epi32(p0, p1), _mm512_unpackhi_epi32(p0, p1));
  const __m512i t23 = _mm512_add_epi32(_mm512_unpacklo_epi32(p2, p3), _mm512_unpackhi_epi32(p2, p3));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(t01, t23), _mm512_unpackhi_epi64(t01, t23));
}

// Lane 4L + c of the result = s[c][block of lane L], blocks alternating b0, b1, b0, b1 by lane.
inline __m512 token_block_scales(const uint16_t (&h0)[4], const uint16_t (&h1)[4]) {
  const __m128 a = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(h0)));
  const __m128 b = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(h1)));
  const __m256 ab = _mm256_insertf128_ps(_mm256_castps128_ps256(a), b, 1);
  return _mm512_insertf32x8(_mm512_castps256_ps512(ab), ab, 1);
}

// As token_block_scales for element-ordered pairs of blocks (lanes b0, b0, b1, b1).
inline __m512 token_block_scales_seq(const uint16_t (&h0)[4], const uint16_t (&h1)[4]) {
  const __m128 a = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(h0)));
  const __m128 b = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(h1)));
  const __m256 aa = _mm256_insertf128_ps(_mm256_castps128_ps256(a), a, 1);
  const __m256 bb = _mm256_insertf128_ps(_mm256_castps128_ps256(b), b, 1);
  return _mm512_insertf32x8(_mm512_castps256_ps512(aa), bb, 1);
}

// Sums the four 128-bit lanes: lane c of the result is token c's total.
inline __m128 sum_lanes128(__m512 v) {
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// Q4_0 weights x Q8_0 activations, two blocks per step.  sum (q - 8) x = dpbusd(q, x) - sum 8x,
// with -sum 8x (per token) as the dpbusd accumulator's starting value.  An odd last block is
// paired with itself and its second copy weighted 0 (kTail).
struct Q4_0Tile {
  template <int R, int C, bool kTail>
  static inline __attribute__((always_inline)) void step(int64_t b, const uint8_t* w, size_t ws, const uint8_t* x,
                                                          size_t xs, __m512 (&acc)[R][C]) {
    const __m512i eight = _mm512_set1_epi8(8);
    const int64_t b1 = kTail ? b : b + 1;
    uint16_t hx[8] = {}, hw[8] = {};
    __m512i xq[C], neg_s[C];
    for (int c = 0; c < C; ++c) {
      const auto* xb = reinterpret_cast<const block_q8_0*>(x + c * xs);
      const __m512i xe = load_2x32(xb[b].qs, xb[b1].qs);  // [x0 lo, x0 hi, x1 lo, x1 hi]
      xq[c] = _mm512_shuffle_i64x2(xe, xe, _MM_SHUFFLE(3, 1, 2, 0));
      neg_s[c] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, xq[c]));
      hx[2 * c] = xb[b].d;
      hx[2 * c + 1] = kTail ? 0 : xb[b1].d;
    }
    for (int r = 0; r < R; ++r) {
      const auto* wb = reinterpret_cast<const block_q4_0*>(w + r * ws);
      hw[2 * r] = wb[b].d;
      hw[2 * r + 1] = wb[b1].d;
    }
    __m512 dx[C];
    for (int c = 0; c < C; ++c) dx[c] = scales_interleaved(_cvtsh_ss(hx[2 * c]), _cvtsh_ss(hx[2 * c + 1]));
    for (int r = 0; r < R; ++r) {
      const auto* wb = reinterpret_cast<const block_q4_0*>(w + r * ws);
      const __m512i q = unpack_q4_0x2_lanes(wb[b].qs, wb[b1].qs);
      const __m512 dw = scales_interleaved(_cvtsh_ss(hw[2 * r]), _cvtsh_ss(hw[2 * r + 1]));
      for (int c = 0; c < C; ++c) {
        const __m512i p = _mm512_dpbusd_epi32(neg_s[c], q, xq[c]);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw, dx[c]), acc[r][c]);
      }
    }
  }
  // Four tokens: one accumulator per row (see reduce4_lanes).
  template <int R, bool kTail>
  static inline __attribute__((always_inline)) void step4(int64_t b, const uint8_t* w, size_t ws, const uint8_t* x,
                                                           size_t xs, __m512 (&acc)[R]) {
    const __m512i eight = _mm512_set1_epi8(8);
    const int64_t b1 = kTail ? b : b + 1;
    uint16_t h0[4], h1[4];
    __m512i xq[4], neg_s[4];
    for (int c = 0; c < 4; ++c) {
      const auto* xb = reinterpret_cast<const block_q8_0*>(x + c * xs);
      const __m512i xe = load_2x32(xb[b].qs, xb[b1].qs);
      xq[c] = _mm512_shuffle_i64x2(xe, xe, _MM_SHUFFLE(3, 1, 2, 0));
      neg_s[c] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, xq[c]));
      h0[c] = xb[b].d;
      h1[c] = kTail ? 0 : xb[b1].d;
    }
    const __m512 dx = token_block_scales(h0, h1);
    for (int r = 0; r < R; ++r) {
      const auto* wb = reinterpret_cast<const block_q4_0*>(w + r * ws);
      const __m512i q = unpack_q4_0x2_lanes(wb[b].qs, wb[b1].qs);
      const __m512 dw = scales_interleaved(_cvtsh_ss(wb[b].d), _cvtsh_ss(wb[b1].d));
      const __m512i u = reduce4_lanes(_mm512_dpbusd_epi32(neg_s[0], q, xq[0]), _mm512_dpbusd_epi32(neg_s[1], q, xq[1]),
                                      _mm512_dpbusd_epi32(neg_s[2], q, xq[2]), _mm512_dpbusd_epi32(neg_s[3], q, xq[3]));
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(u), _mm512_mul_ps(dw, dx), acc[r]);
    }
  }
  template <int R>
  static void run4(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
    const int64_t nb = n / 32;
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) step4<R, false>(b, w, ws, x, xs, acc);
    if (b < nb) step4<R, true>(b, w, ws, x, xs, acc);
    for (int r = 0; r < R; ++r) {
      alignas(16) float t[4];
      _mm_store_ps(t, sum_lanes128(acc[r]));
      for (int c = 0; c < 4; ++c) y[c * ldy + r] = t[c];
    }
  }
  // One token, four rows (matvec): the same lane reduction across rows instead of tokens.
  template <bool kTail>
  static inline __attribute__((always_inline)) void step_rows4(int64_t b, const uint8_t* w, size_t ws,
                                                                const uint8_t* x, __m512& acc) {
    const int64_t b1 = kTail ? b : b + 1;
    const auto* xb = reinterpret_cast<const block_q8_0*>(x);
    const __m512i xe = load_2x32(xb[b].qs, xb[b1].qs);
    const __m512i xq = _mm512_shuffle_i64x2(xe, xe, _MM_SHUFFLE(3, 1, 2, 0));
    const __m512i neg_s = _mm512_sub_epi32(
        _mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), xq));
    const __m512 dx = scales_interleaved(_cvtsh_ss(xb[b].d), kTail ? 0.0f : _cvtsh_ss(xb[b1].d));
    uint16_t h0[4], h1[4];
    __m512i p[4];
    for (int r = 0; r < 4; ++r) {
      const auto* wb = reinterpret_cast<const block_q4_0*>(w + r * ws);
      p[r] = _mm512_dpbusd_epi32(neg_s, unpack_q4_0x2_lanes(wb[b].qs, wb[b1].qs), xq);
      h0[r] = wb[b].d;
      h1[r] = wb[b1].d;
    }
    const __m512i u = reduce4_lanes(p[0], p[1], p[2], p[3]);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(u), _mm512_mul_ps(token_block_scales(h0, h1), dx), acc);
  }
  static void run_rows4(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, float* y) {
    const int64_t nb = n / 32;
    __m512 acc = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) step_rows4<false>(b, w, ws, x, acc);
    if (b < nb) step_rows4<true>(b, w, ws, x, acc);
    alignas(16) float t[4];
    _mm_store_ps(t, sum_lanes128(acc));
    for (int r = 0; r < 4; ++r) y[r] = t[r];
  }
  template <int R, int C>
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
    if constexpr (C == 4) {
      run4<R>(n, w, ws, x, xs, y, ldy);
      return;
    }
    if constexpr (C == 1 && R == 4) {
      run_rows4(n, w, ws, x, y);
      return;
    }
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

// Q8_0 weights x Q8_0 activations.  dpbusd needs one unsigned operand: use x + 128 and remove
// 128 * sum w (per row) through the accumulator's starting value.
struct Q8_0Tile {
  template <int R, int C, bool kTail>
  static inline __attribute__((always_inline)) void step(int64_t b, const uint8_t* w, size_t ws, const uint8_t* x,
                                                          size_t xs, __m512 (&acc)[R][C]) {
    const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
    const int64_t b1 = kTail ? b : b + 1;
    uint16_t hx[8] = {}, hw[8] = {};
    __m512i xu[C];
    for (int c = 0; c < C; ++c) {
      const auto* xb = reinterpret_cast<const block_q8_0*>(x + c * xs);
      xu[c] = _mm512_xor_si512(load_2x32(xb[b].qs, xb[b1].qs), bias);
      hx[2 * c] = xb[b].d;
      hx[2 * c + 1] = kTail ? 0 : xb[b1].d;
    }
    for (int r = 0; r < R; ++r) {
      const auto* wb = reinterpret_cast<const block_q8_0*>(w + r * ws);
      hw[2 * r] = wb[b].d;
      hw[2 * r + 1] = wb[b1].d;
    }
    __m512 dx[C];
    for (int c = 0; c < C; ++c) dx[c] = scales_2(_cvtsh_ss(hx[2 * c]), _cvtsh_ss(hx[2 * c + 1]));
    for (int r = 0; r < R; ++r) {
      const auto* wb = reinterpret_cast<const block_q8_0*>(w + r * ws);
      const __m512i q = load_2x32(wb[b].qs, wb[b1].qs);
      const __m512i neg_t =
          _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, q));
      const __m512 dw = scales_2(_cvtsh_ss(hw[2 * r]), _cvtsh_ss(hw[2 * r + 1]));
      for (int c = 0; c < C; ++c) {
        const __m512i p = _mm512_dpbusd_epi32(neg_t, xu[c], q);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw, dx[c]), acc[r][c]);
      }
    }
  }
  template <int R, bool kTail>
  static inline __attribute__((always_inline)) void step4(int64_t b, const uint8_t* w, size_t ws, const uint8_t* x,
                                                           size_t xs, __m512 (&acc)[R]) {
    const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
    const int64_t b1 = kTail ? b : b + 1;
    uint16_t h0[4], h1[4];
    __m512i xu[4];
    for (int c = 0; c < 4; ++c) {
      const auto* xb = reinterpret_cast<const block_q8_0*>(x + c * xs);
      xu[c] = _mm512_xor_si512(load_2x32(xb[b].qs, xb[b1].qs), bias);
      h0[c] = xb[b].d;
      h1[c] = kTail ? 0 : xb[b1].d;
    }
    const __m512 dx = token_block_scales_seq(h0, h1);
    for (int r = 0; r < R; ++r) {
      const auto* wb = reinterpret_cast<const block_q8_0*>(w + r * ws);
      const __m512i q = load_2x32(wb[b].qs, wb[b1].qs);
      const __m512i neg_t =
          _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, q));
      const __m512 dw = scales_2(_cvtsh_ss(wb[b].d), _cvtsh_ss(wb[b1].d));
      const __m512i u = reduce4_lanes(_mm512_dpbusd_epi32(neg_t, xu[0], q), _mm512_dpbusd_epi32(neg_t, xu[1], q),
                                      _mm512_dpbusd_epi32(neg_t, xu[2], q), _mm512_dpbusd_epi32(neg_t, xu[3], q));
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(u), _mm512_mul_ps(dw, dx), acc[r]);
    }
  }
  template <int R>
  static void run4(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
    const int64_t nb = n / 32;
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) step4<R, false>(b, w, ws, x, xs, acc);
    if (b < nb) step4<R, true>(b, w, ws, x, xs, acc);
    for (int r = 0; r < R; ++r) {
      alignas(16) float t[4];
      _mm_store_ps(t, sum_lanes128(acc[r]));
      for (int c = 0; c < 4; ++c) y[c * ldy + r] = t[c];
    }
  }
  template <int R, int C>
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
    if constexpr (C == 4) {
      run4<R>(n, w, ws, x, xs, y, ldy);
      return;
    }
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

// Float weights (f32, f16, bf16) x f32 activations, 16 elements per step; masked tail.
template <int kKind>  // 0 f32, 1 f16, 2 bf16
struct FloatTile {
  static __m512 load_full(const uint8_t* row, int64_t i) {
    if constexpr (kKind == 0) {
      return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
    } else if constexpr (kKind == 1) {
      return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + i)));
    } else {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + i));
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
  }
  static __m512 load_w(const uint8_t* row, int64_t i, __mmask16 m) {
    if constexpr (kKind == 0) {
      return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + i);
    } else if constexpr (kKind == 1) {
      return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + i));
    } else {
      const __m256i h = _mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + i);
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
  }
  template <int R, int C>
  static void step(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t i, __mmask16 m,
                   __m512 (&acc)[R][C]) {
    __m512 xv[C];
    for (int c = 0; c < C; ++c) xv[c] = _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(x + c * xs) + i);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = load_w(w + r * ws, i, m);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(wv, xv[c], acc[r][c]);
    }
  }
  template <int R, int C>
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, float* y, int64_t ldy) {
    __m512 acc[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    int64_t i = 0;
    // The main loop uses plain loads: with masked loads inside the loop GCC keeps the
    // accumulators in memory and stores all of them every iteration.
    for (; i + 16 <= n; i += 16) {
      __m512 xv[C];
      for (int c = 0; c < C; ++c) xv[c] = _mm512_loadu_ps(reinterpret_cast<const float*>(x + c * xs) + i);
      for (int r = 0; r < R; ++r) {
        if constexpr (C == 1) {
          // One token (a prompt's last column; decoding has its own one-row kernels since
          // stop 19): the same columns of the next tile's rows, into L2.
          constexpr int kElemBytes = kKind == 0 ? 4 : 2;
          _mm_prefetch(reinterpret_cast<const char*>(w + (r + R) * ws + i * kElemBytes), _MM_HINT_T1);
        }
        const __m512 wv = load_full(w + r * ws, i);
        for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(wv, xv[c], acc[r][c]);
      }
    }
    if (i < n) step<R, C>(w, ws, x, xs, i, static_cast<__mmask16>((1u << (n - i)) - 1), acc);
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) y[c * ldy + r] = _mm512_reduce_add_ps(acc[r][c]);
  }
};

template <typename Tile>
constexpr GemmFn gemm = gemm_tiles<Tile, kTileRows, kTileCols>;

}  // namespace

void install_avx512_gemm(KernelTable& t) {
  set_gemm(t, TensorType::kQ4_0, gemm<Q4_0Tile>);
  set_gemm(t, TensorType::kQ8_0, gemm<Q8_0Tile>);
  set_gemm(t, TensorType::kF32, gemm<FloatTile<0>>);
  set_gemm(t, TensorType::kF16, gemm<FloatTile<1>>);
  set_gemm(t, TensorType::kBF16, gemm<FloatTile<2>>);
}

}  // namespace plumb::kernels
