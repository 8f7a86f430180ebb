// AVX2 kernels for Q4_1, Q5_0 and Q5_1 weights against Q8_0 activations: vec_dot, a decode path
// (matvec_rows) and prompt panels (matmul_panel), plus the Q8_0 activation quantizer for these
// types.
//
// The weights are unpacked to unsigned bytes q (0..15 or 0..31), so _mm256_maddubs_epi16 takes
// them directly (u8 x s8, no sign trick).  Per block, with a = the token's int8 activations:
//   q4_1 / q5_1: d*dx*sum(q*a) + m*dx*sum(a)
//   q5_0:        d*dx*(sum(q*a) - 16*sum(a))        (exact in int32)
// sum(a) depends only on the token, so it is computed once per token and block.
//
// Only intrinsics and file-local functions here (see dispatch.h for why).
// GCC 12 reports the _mm*_undefined_*() placeholders inside its own intrinsic headers as
// uninitialized once they are inlined here; the warnings are false positives.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "gguf/quantize.h"
#include "kernels/dispatch.h"
#include "kernels/x86/prefetch.h"
#include "kernels/x86/simd_math_avx2.h"

namespace plumb::kernels {

namespace {

using gguf::block_q4_1;
using gguf::block_q5_0;
using gguf::block_q5_1;
using gguf::block_q8_0;

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

// One row against one token (the vec_dot; matvec and matmul use the prepared paths below).
template <typename F>
float vec_dot(int64_t n, const void* vw, const void* vx) {
  using Block = typename F::Block;
  const auto* w = static_cast<const Block*>(vw);
  const auto* x = static_cast<const block_q8_0*>(vx);
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const __m256i xq = avx2::load_i8x32(x[b].qs);
    const float dx = _cvtsh_ss(x[b].d);
    const __m256i xsum = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, xq), ones16);  // 8 lanes of 4
    __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(F::quants(w[b]), xq), ones16);
    if constexpr (!F::kHasMin) p = _mm256_sub_epi32(p, _mm256_slli_epi32(xsum, 4));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(_cvtsh_ss(w[b].d) * dx), acc);
    if constexpr (F::kHasMin)
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(xsum), _mm256_set1_ps(_cvtsh_ss(w[b].m) * dx), acc);
  }
  return avx2::hsum(acc);
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

// Decoding (matvec_rows) with activations prepared once per call.  Per block the unsigned quants
// meet the activations through VPMADDUBSW + VPMADDWD; the 8 per-block int32 vectors of a group
// of 8 blocks are summed into one vector of 8 block totals, so the q5_0 offset term, the
// conversion and the scale FMA happen once per 8 blocks, and the mins of q4_1 / q5_1 cost one
// more 8-wide FMA per group.  Rows go 4 at a time and prefetch the next 4 rows into L2.
// Prepared layout, blocks rounded up to groups of 8 (zeros past nb): 32 int8 activations per
// block, then per group 8 int32 starts (q5_0: -16 * sum of the block's activations, else 0),
// 8 float dx and 8 float dx * sum.
struct MatvecLayout {
  int64_t nb, n_groups;
  explicit MatvecLayout(int64_t n) : nb(n / 32), n_groups((n / 32 + 7) / 8) {}
  size_t bytes() const { return static_cast<size_t>(n_groups) * (8 * 32 + 3 * 32); }
};

size_t matvec_x_bytes(int64_t n) { return MatvecLayout(n).bytes(); }

template <typename F>
void matvec_prepare(int64_t n, const void* vxq, void* vxp) {
  const MatvecLayout L(n);
  const auto* xq = static_cast<const block_q8_0*>(vxq);
  auto* qs = static_cast<uint8_t*>(vxp);
  auto* start = reinterpret_cast<int32_t*>(qs + L.n_groups * 256);
  auto* dx = reinterpret_cast<float*>(start + L.n_groups * 8);
  float* sx = dx + L.n_groups * 8;
  for (int64_t b = 0; b < L.n_groups * 8; ++b) {
    int32_t sum = 0;
    if (b < L.nb) {
      std::memcpy(qs + b * 32, xq[b].qs, 32);
      for (int i = 0; i < 32; ++i) sum += xq[b].qs[i];
      dx[b] = _cvtsh_ss(xq[b].d);
    } else {
      std::memset(qs + b * 32, 0, 32);
      dx[b] = 0.0f;
    }
    start[b] = F::kHasMin ? 0 : -16 * sum;
    sx[b] = dx[b] * static_cast<float>(sum);
  }
}

// Lane j of the result = the sum of the 8 lanes of p[j].
inline __m256i sum8(const __m256i (&p)[8]) {
  const __m256i a01 = _mm256_hadd_epi32(p[0], p[1]), a23 = _mm256_hadd_epi32(p[2], p[3]);
  const __m256i a45 = _mm256_hadd_epi32(p[4], p[5]), a67 = _mm256_hadd_epi32(p[6], p[7]);
  const __m256i b0 = _mm256_hadd_epi32(a01, a23), b1 = _mm256_hadd_epi32(a45, a67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(b0, b1, 0x20), _mm256_permute2x128_si256(b0, b1, 0x31));
}

// The fp16 field at byte `field` of each of the 8 blocks of a group, as floats.
template <typename Block>
inline __m256 group_halves(const uint8_t* g, size_t field) {
  uint16_t h[8];
  for (int j = 0; j < 8; ++j) std::memcpy(&h[j], g + j * sizeof(Block) + field, 2);
  auto pair = [&](int j) { return static_cast<int>(h[j] | (static_cast<uint32_t>(h[j + 1]) << 16)); };
  __m128i v = _mm_cvtsi32_si128(pair(0));
  v = _mm_insert_epi32(v, pair(2), 1);
  v = _mm_insert_epi32(v, pair(4), 2);
  v = _mm_insert_epi32(v, pair(6), 3);
  return _mm256_cvtph_ps(v);
}

// One group of 8 blocks of one row.
template <typename F>
inline __m256 group_row(const uint8_t* g, const uint8_t* x, __m256i start, __m256 dx, __m256 sx, __m256 acc) {
  using Block = typename F::Block;
  __m256i p[8];
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) {
    const Block& blk = reinterpret_cast<const Block*>(g)[j];
    const __m256i xv = _mm256_load_si256(reinterpret_cast<const __m256i*>(x + 32 * j));
    p[j] = _mm256_madd_epi16(_mm256_maddubs_epi16(F::quants(blk), xv), _mm256_set1_epi16(1));
  }
  const __m256 d = _mm256_mul_ps(group_halves<Block>(g, offsetof(Block, d)), dx);
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(sum8(p), start)), d, acc);
  if constexpr (F::kHasMin) acc = _mm256_fmadd_ps(group_halves<Block>(g, offsetof(Block, m)), sx, acc);
  return acc;
}

template <typename F, int R>
void matvec_tile(const MatvecLayout& L, const uint8_t* w, size_t ws, const uint8_t* xp, float* y) {
  constexpr size_t kGroupBytes = 8 * sizeof(typename F::Block);
  const auto* start = reinterpret_cast<const __m256i*>(xp + L.n_groups * 256);
  const auto* dx = reinterpret_cast<const float*>(start + L.n_groups);
  const float* sx = dx + L.n_groups * 8;
  __m256 acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  const int64_t full = L.nb / 8;
  for (int64_t g = 0; g < full; ++g) {
    const __m256i s = _mm256_load_si256(start + g);
    const __m256 d = _mm256_load_ps(dx + 8 * g), m = _mm256_load_ps(sx + 8 * g);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* gp = w + r * ws + g * kGroupBytes;
      prefetch_l2(gp + R * ws, kGroupBytes);  // the same group of the next tile's rows
      acc[r] = group_row<F>(gp, xp + g * 256, s, d, m, acc[r]);
    }
  }
  if (full < L.n_groups) {
    // The last 1-7 blocks, copied into a zeroed group (zero scales, zero activations past nb).
    const __m256i s = _mm256_load_si256(start + full);
    const __m256 d = _mm256_load_ps(dx + 8 * full), m = _mm256_load_ps(sx + 8 * full);
    for (int r = 0; r < R; ++r) {
      alignas(32) uint8_t tail[kGroupBytes] = {};
      std::memcpy(tail, w + r * ws + full * kGroupBytes, static_cast<size_t>(L.nb - 8 * full) * sizeof(typename F::Block));
      acc[r] = group_row<F>(tail, xp + full * 256, s, d, m, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = avx2::hsum(acc[r]);
}

template <typename F>
void matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  const MatvecLayout L(n);
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  int r = 0;
  for (; r + 4 <= nr; r += 4) matvec_tile<F, 4>(L, w + r * ws, ws, xp, y + r);
  for (; r < nr; ++r) matvec_tile<F, 1>(L, w + r * ws, ws, xp, y + r);
}

// Activations to Q8_0, bit-identical to gguf::quantize_row_q8_0 (the scalar path's roundf,
// half away from zero, and the same float operations for d and 1/d), so each level's results
// differ from the scalar ones only in summation order.  The scalar version calls libm's roundf
// per element, which for a single token costs a sizeable part of a matvec.
void quantize_x_q8_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_0*>(vy);
  const __m256 half = _mm256_set1_ps(0.5f);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / 32; ++i) {
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 32 * i + 8 * k);
      amax = _mm256_max_ps(amax, avx2::abs_ps(v[k]));
    }
    const float d = avx2::hmax(amax) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      const __m256 s = _mm256_mul_ps(v[k], _mm256_set1_ps(id));
      // roundf: truncate, then step away from zero when the dropped fraction is >= 0.5.
      const __m256 t = _mm256_round_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __m256 up = _mm256_cmp_ps(avx2::abs_ps(_mm256_sub_ps(s, t)), half, _CMP_GE_OQ);
      const __m256 r = _mm256_add_ps(t, _mm256_and_ps(up, _mm256_or_ps(_mm256_and_ps(s, sign), one)));
      q[k] = _mm256_cvtps_epi32(r);
    }
    // Packs with saturation (values are within [-127, 127]) and undoes the lane interleaving.
    const __m256i a = _mm256_packs_epi32(q[0], q[1]);
    const __m256i b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i c = _mm256_packs_epi16(a, b);
    avx2::store_i8x32(y[i].qs, _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
}

template <typename F>
void install(KernelTable& t, TensorType type) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(type)];
  k.quantize_x = quantize_x_q8_0;
  k.vec_dot = vec_dot<F>;
  k.matvec_x_bytes = matvec_x_bytes;
  k.matvec_prepare = matvec_prepare<F>;
  k.matvec_rows = matvec_rows<F>;
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
