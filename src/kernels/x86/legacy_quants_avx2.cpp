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
  static constexpr bool kFiveBit = false;
  static __m256i quants(const Block& b) { return unpack_nibbles(b.qs); }
};
struct Q5_0 {
  using Block = block_q5_0;
  static constexpr bool kHasMin = false;
  static constexpr bool kFiveBit = true;
  static __m256i quants(const Block& b) { return _mm256_or_si256(unpack_nibbles(b.qs), high_bits(b.qh)); }
};
struct Q5_1 {
  using Block = block_q5_1;
  static constexpr bool kHasMin = true;
  static constexpr bool kFiveBit = true;
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

// Prompt processing in panels of 16 rows (matmul_panel), as two halves of 8 rows.  A half is
// repacked once into the calling thread's buffer: per block 8 vectors, vector j = elements
// 4j..4j+3 of the 8 rows (dword lane r = row r), then the 8 rows' d and m as floats.  Every
// token then meets each weight vector with one broadcast of its 4 activation bytes in
// VPMADDUBSW (unsigned quants, no sign trick) and the int16 pair sums are added up (q4_1: all
// 8 vectors, <= 8 * 2 * 15 * 128 = 30720; 5-bit quants: 4 at a time, <= 31744), widened once
// (twice), started from -16 * sum(a) for q5_0; then one conversion, scale multiply and FMA per
// block for 8 rows, plus one FMA with the mins for q4_1 / q5_1.  Each (row, token) result is
// the same sequence of operations wherever its panel and tokens fall, so results do not depend
// on the thread count.
static_assert(kPanelRows == 16, "a panel is two 8-lane halves of rows");
constexpr int kHalfRows = 8;
constexpr size_t kHalfBlockBytes = 8 * 32 + 2 * kHalfRows * sizeof(float);
// Per token and block: int32 start (q5_0: -16 * sum(a), else 0), float dx, float dx * sum(a).
constexpr size_t kPanelXBytes = 12;

size_t panel_x_bytes(int64_t n, int64_t n_tokens) {
  return static_cast<size_t>(n / 32) * static_cast<size_t>(n_tokens) * kPanelXBytes;
}

size_t panel_bytes(int64_t n) { return 2 * static_cast<size_t>(n / 32) * kHalfBlockBytes; }

template <typename F>
void panel_prepare(int64_t n, int64_t n_tokens, const void* vxq, size_t xs, void* vxp) {
  const int64_t nb = n / 32;
  auto* out = static_cast<uint8_t*>(vxp);
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const auto* xb = reinterpret_cast<const block_q8_0*>(static_cast<const uint8_t*>(vxq) + t * xs);
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i q = avx2::load_i8x32(xb[b].qs);
      const int32_t sum = avx2::hsum_i32(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16));
      const int32_t start = F::kHasMin ? 0 : -16 * sum;
      const float dx = _cvtsh_ss(xb[b].d);
      const float sx = dx * static_cast<float>(sum);
      uint8_t* e = out + (t * nb + b) * kPanelXBytes;
      std::memcpy(e, &start, 4);
      std::memcpy(e + 4, &dx, 4);
      std::memcpy(e + 8, &sx, 4);
    }
  }
}

// The half panel starting at row `w` with `rows` (1..8) real rows; the rest are zeros with zero
// scales, so they compute to 0 and are never stored.
template <typename F>
void panel_repack_half(int64_t nb, const uint8_t* w, size_t ws, int rows, uint8_t* hb) {
  using Block = typename F::Block;
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* blk = hb + b * kHalfBlockBytes;
    auto* d = reinterpret_cast<float*>(blk + 8 * 32);
    float* m = d + kHalfRows;
    for (int r = 0; r < kHalfRows; ++r) {
      alignas(32) uint32_t q4[8] = {};  // dword j: elements 4j..4j+3
      d[r] = 0.0f;
      m[r] = 0.0f;
      if (r < rows) {
        const Block& src = reinterpret_cast<const Block*>(w + r * ws)[b];
        _mm256_store_si256(reinterpret_cast<__m256i*>(q4), F::quants(src));
        d[r] = _cvtsh_ss(src.d);
        if constexpr (F::kHasMin) m[r] = _cvtsh_ss(src.m);
      }
      for (int j = 0; j < 8; ++j) std::memcpy(blk + j * 32 + r * 4, &q4[j], 4);
    }
  }
}

inline __m256i broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

template <typename F, int NT>
void panel_tokens(int64_t nb, const uint8_t* hb, const uint8_t* xq, size_t xs, const uint8_t* xp, float* y,
                  int64_t ldy, int rows) {
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = hb + b * kHalfBlockBytes;
    const uint8_t* qs = xq + b * sizeof(block_q8_0) + 2;
    __m256i s[NT], s2[NT];  // int16 pair sums of vectors 0-7 (q4_1) or 0-3 and 4-7 (5-bit)
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const __m256i wv = _mm256_load_si256(reinterpret_cast<const __m256i*>(blk + 32 * j));
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const __m256i p = _mm256_maddubs_epi16(wv, broadcast4(qs + t * xs + 4 * j));
        if (F::kFiveBit && j >= 4) {
          s2[t] = j == 4 ? p : _mm256_add_epi16(s2[t], p);
        } else {
          s[t] = j == 0 ? p : _mm256_add_epi16(s[t], p);
        }
      }
    }
    const __m256 d = _mm256_load_ps(reinterpret_cast<const float*>(blk + 8 * 32));
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const uint8_t* e = xp + (t * nb + b) * kPanelXBytes;
      int32_t start;
      float dx;
      std::memcpy(&start, e, 4);
      std::memcpy(&dx, e + 4, 4);
      __m256i s32 = _mm256_madd_epi16(s[t], ones16);
      if constexpr (F::kFiveBit) s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(s2[t], ones16));
      if constexpr (!F::kHasMin) s32 = _mm256_add_epi32(s32, _mm256_set1_epi32(start));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), _mm256_mul_ps(d, _mm256_set1_ps(dx)), acc[t]);
      if constexpr (F::kHasMin) {
        float sx;
        std::memcpy(&sx, e + 8, 4);
        acc[t] = _mm256_fmadd_ps(_mm256_load_ps(reinterpret_cast<const float*>(blk + 8 * 32) + kHalfRows),
                                 _mm256_set1_ps(sx), acc[t]);
      }
    }
  }
  if (rows == kHalfRows) {
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) _mm256_storeu_ps(y + t * ldy, acc[t]);
  } else {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int t = 0; t < NT; ++t) _mm256_maskstore_ps(y + t * ldy, mask, acc[t]);
  }
}

template <typename F>
void panel(int64_t n, const void* vw, size_t ws, int nr, const void* vxq, size_t xs, const void* vxp, int64_t n_tokens,
           float* y, int64_t ldy, void* tmp) {
  // Tokens per pass: the accumulators (one int16 sum per token, two for 5-bit quants) and the
  // float sums must stay in the 16 registers.
  constexpr int NT = F::kFiveBit ? 4 : 6;
  const int64_t nb = n / 32;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xq = static_cast<const uint8_t*>(vxq);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  auto* buf = static_cast<uint8_t*>(tmp);
  const size_t xp_token = static_cast<size_t>(nb) * kPanelXBytes;
  for (int h = 0; h * kHalfRows < nr; ++h) {
    const int rows = nr - h * kHalfRows < kHalfRows ? nr - h * kHalfRows : kHalfRows;
    uint8_t* hb = buf + h * nb * kHalfBlockBytes;
    panel_repack_half<F>(nb, w + h * kHalfRows * ws, ws, rows, hb);
    float* yh = y + h * kHalfRows;
    int64_t t = 0;
    for (; t + NT <= n_tokens; t += NT)
      panel_tokens<F, NT>(nb, hb, xq + t * xs, xs, xp + t * xp_token, yh + t * ldy, ldy, rows);
    for (; t + 2 <= n_tokens; t += 2)
      panel_tokens<F, 2>(nb, hb, xq + t * xs, xs, xp + t * xp_token, yh + t * ldy, ldy, rows);
    for (; t < n_tokens; ++t) panel_tokens<F, 1>(nb, hb, xq + t * xs, xs, xp + t * xp_token, yh + t * ldy, ldy, rows);
  }
}

template <typename F>
void install(KernelTable& t, TensorType type) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(type)];
  k.vec_dot = vec_dot<F>;
  set_gemm(t, type, gemm_tiles<LegacyTile<F>, kTileRows, kTileCols>);
  k.matmul_x_bytes = panel_x_bytes;
  k.matmul_prepare = panel_prepare<F>;
  k.matmul_panel_bytes = panel_bytes;
  k.matmul_panel = panel<F>;
}

}  // namespace

void install_avx2_legacy_quants(KernelTable& t) {
  install<Q4_1>(t, TensorType::kQ4_1);
  install<Q5_0>(t, TensorType::kQ5_0);
  install<Q5_1>(t, TensorType::kQ5_1);
}

}  // namespace plumb::kernels
