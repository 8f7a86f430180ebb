// AVX-512 (VNNI) kernels for Q4_1, Q5_0 and Q5_1 weights against Q8_0 activations: vec_dot,
// a decode path (matvec_rows) and prompt panels (matmul_panel), plus the Q8_0 activation
// quantizer for these types.
//
// Weights are unpacked to unsigned bytes q (0..15 or 0..31) for VPDPBUSD (u8 x s8).  Per block,
// with a = the token's int8 activations:
//   q4_1 / q5_1: d*dx*sum(q*a) + m*dx*sum(a)
//   q5_0:        d*dx*(sum(q*a) - 16*sum(a)), with -16*sum(a) as the VPDPBUSD accumulator's start
// sum(a) depends only on the token, so it is computed once per token and block.
//
// vec_dot and matvec take two blocks b0, b1 per 512-bit step in 128-bit lanes [b0 low nibbles,
// b1 low, b0 high, b1 high] (cheap to unpack); the activations are permuted to that order.  Bit
// 4 of the 5-bit formats is added through a byte mask built from the two qh fields.
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
#include <type_traits>

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

// One row against one token, two blocks per step (the vec_dot; matvec and matmul use the
// prepared paths below).  An odd last block is paired with itself and its second copy weighted
// 0 through the activation scale.
template <typename F>
float vec_dot(int64_t n, const void* vw, const void* vx) {
  using Block = typename F::Block;
  const auto* w = static_cast<const Block*>(vw);
  const auto* x = static_cast<const block_q8_0*>(vx);
  const int64_t nb = n / 32;
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b += 2) {
    const int64_t b1 = b + 1 < nb ? b + 1 : b;
    const __m512i xe = load_2x32(x[b].qs, x[b1].qs);  // [x0 lo, x0 hi, x1 lo, x1 hi]
    const __m512i xq = _mm512_shuffle_i64x2(xe, xe, _MM_SHUFFLE(3, 1, 2, 0));
    const __m512 dx = per_lane(_cvtsh_ss(x[b].d), b1 != b ? _cvtsh_ss(x[b1].d) : 0.0f);
    const __m512i xsum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), xq);
    const __m512i start =
        F::kHasMin ? _mm512_setzero_si512() : _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(xsum, 4));
    const __m512i p = _mm512_dpbusd_epi32(start, F::quants(w[b], w[b1]), xq);
    const __m512 dw = per_lane(_cvtsh_ss(w[b].d), _cvtsh_ss(w[b1].d));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw, dx), acc);
    if constexpr (F::kHasMin) {
      const __m512 mw = per_lane(_cvtsh_ss(w[b].m), _cvtsh_ss(w[b1].m));
      acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(xsum), dx), mw, acc);
    }
  }
  return _mm512_reduce_add_ps(acc);
}

// Decoding (matvec_rows): what does not depend on the weights is done once per call
// (matvec_prepare), and each row is one linear stream.  Prepared activations for n = 32 * nb
// columns, pairs of blocks p = 0 .. ceil(nb / 2) - 1:
//   x[p]   64 bytes: the pair's activations in the lane order above (zeros past nb);
//   aux[p] 16 int32 (q5_0 only): -16 * (sum of each lane's four activations), VPDPBUSD's start;
//   dx[g]  8 floats per group of 8 blocks: the activation scales (zeros past nb);
//   sx[g]  8 floats per group (q4_1 / q5_1 only): dx * (sum of the block's activations), so
//          that a group's min terms are one 8-wide FMA with its 8 mins.
struct MatvecLayout {
  int64_t nb, n_pairs, n_groups;
  explicit MatvecLayout(int64_t n) : nb(n / 32), n_pairs((n / 32 + 1) / 2), n_groups((n / 32 + 7) / 8) {}
  size_t bytes() const { return static_cast<size_t>(n_pairs) * 128 + static_cast<size_t>(n_groups) * 64; }
};

template <typename F>
size_t matvec_x_bytes(int64_t n) {
  return MatvecLayout(n).bytes();
}

template <typename F>
void matvec_prepare(int64_t n, const void* vxq, void* vxp) {
  const MatvecLayout L(n);
  const auto* xq = static_cast<const block_q8_0*>(vxq);
  auto* out = static_cast<uint8_t*>(vxp);
  auto* aux = reinterpret_cast<__m512i*>(out + L.n_pairs * 64);
  auto* dx = reinterpret_cast<float*>(out + L.n_pairs * 128);
  auto* sx = dx + L.n_groups * 8;
  for (int64_t b = 0; b < L.n_groups * 8; ++b) {
    dx[b] = b < L.nb ? _cvtsh_ss(xq[b].d) : 0.0f;
    int32_t sum = 0;
    for (int j = 0; j < 32 && b < L.nb; ++j) sum += xq[b].qs[j];
    sx[b] = dx[b] * static_cast<float>(sum);
  }
  static const int8_t kZeros[32] = {};
  for (int64_t p = 0; p < L.n_pairs; ++p) {
    const int64_t b0 = 2 * p, b1 = 2 * p + 1;  // b1 < 8 * n_groups, and dx[b1] = 0 past nb
    const __m512i xe = load_2x32(xq[b0].qs, b1 < L.nb ? xq[b1].qs : kZeros);
    const __m512i xv = _mm512_shuffle_i64x2(xe, xe, _MM_SHUFFLE(3, 1, 2, 0));
    _mm512_store_si512(out + p * 64, xv);
    const __m512i xsum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), xv);
    aux[p] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(xsum, 4));
  }
}

// Words [d0 d1 d2 d3 m0 m1 m2 m3] (fp16) of the four blocks from p: one full and one masked
// load (the second stops at the fourth block's end, so the last row's read stays in bounds).
template <typename Block>
__m128i scales_of_4(const uint8_t* p) {
  constexpr int kW = sizeof(Block) / 2;
  constexpr int kTailWords = (4 * static_cast<int>(sizeof(Block)) - 64) / 2;
  static_assert(kTailWords > 0 && kTailWords <= 32, "four blocks span 65..128 bytes");
  const __m512i a = _mm512_loadu_si512(p);
  const __m512i b = _mm512_maskz_loadu_epi16(static_cast<__mmask32>((1ull << kTailWords) - 1), p + 64);
  const __m512i idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       3 * kW + 1, 2 * kW + 1, kW + 1, 1, 3 * kW, 2 * kW, kW, 0);
  return _mm512_castsi512_si128(_mm512_permutex2var_epi16(a, idx, b));
}

// One row: per pair one VPDPBUSD, one conversion, one scale permute and one FMA; per group of 8
// blocks one more 8-wide FMA for the mins.  Every row takes the same path, so results do not
// depend on how rows are split between threads.
template <typename F>
void matvec_row(const MatvecLayout& L, const __m512i (&idx)[4], const uint8_t* w, const uint8_t* xp,
                const StreamAhead& ahead, float* y) {
  using Block = typename F::Block;
  constexpr size_t kB = sizeof(Block);
  const auto* xv = reinterpret_cast<const __m512i*>(xp);
  const auto* aux = xv + L.n_pairs;
  const auto* dx = reinterpret_cast<const float*>(xp + L.n_pairs * 128);
  const float* sx = dx + L.n_groups * 8;
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  __m256 acc_min = _mm256_setzero_ps();
  const int64_t full = L.nb / 8;
  for (int64_t g = 0; g < full; ++g) {
    const uint8_t* group = w + g * 8 * kB;
    prefetch_stream(ahead(group), 8 * kB);
    const __m128i s0 = scales_of_4<Block>(group), s1 = scales_of_4<Block>(group + 4 * kB);
    const __m512 d = _mm512_castps256_ps512(
        _mm256_mul_ps(_mm256_cvtph_ps(_mm_unpacklo_epi64(s0, s1)), _mm256_load_ps(dx + 8 * g)));
    if constexpr (F::kHasMin)
      acc_min = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_unpackhi_epi64(s0, s1)), _mm256_load_ps(sx + 8 * g), acc_min);
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const int64_t p = 4 * g + k;
      const auto* b0 = reinterpret_cast<const Block*>(w + 2 * p * kB);
      const __m512i start = F::kHasMin ? _mm512_setzero_si512() : _mm512_load_si512(aux + p);
      const __m512i s = _mm512_dpbusd_epi32(start, F::quants(b0[0], b0[1]), _mm512_load_si512(xv + p));
      acc[k & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(idx[k], d), acc[k & 1]);
    }
  }
  if (full * 8 < L.nb) {
    // The last 1-7 blocks: scales one by one; an odd last block pairs with itself, its second
    // copy meeting zero activations (and a zero aux and sx).
    const int64_t g = full;
    alignas(32) float ds[8] = {}, ms[8] = {};
    for (int64_t b = 8 * g; b < L.nb; ++b) {
      const auto* blk = reinterpret_cast<const Block*>(w + b * kB);
      ds[b - 8 * g] = _cvtsh_ss(blk->d) * dx[b];
      if constexpr (F::kHasMin) ms[b - 8 * g] = _cvtsh_ss(blk->m);
    }
    const __m512 d = _mm512_castps256_ps512(_mm256_load_ps(ds));
    if constexpr (F::kHasMin) acc_min = _mm256_fmadd_ps(_mm256_load_ps(ms), _mm256_load_ps(sx + 8 * g), acc_min);
    for (int k = 0; 8 * g + 2 * k < L.nb; ++k) {
      const int64_t p = 4 * g + k;
      const int64_t second = 2 * p + 1 < L.nb ? 1 : 0;
      const auto* b0 = reinterpret_cast<const Block*>(w + 2 * p * kB);
      const __m512i start = F::kHasMin ? _mm512_setzero_si512() : _mm512_load_si512(aux + p);
      const __m512i s = _mm512_dpbusd_epi32(start, F::quants(b0[0], b0[second]), _mm512_load_si512(xv + p));
      acc[k & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(idx[k], d), acc[k & 1]);
    }
  }
  __m512 total = _mm512_add_ps(acc[0], acc[1]);
  if constexpr (F::kHasMin) total = _mm512_add_ps(total, _mm512_zextps256_ps512(acc_min));
  *y = _mm512_reduce_add_ps(total);
}

template <typename F>
void matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  const MatvecLayout L(n);
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  // Scale lane of pair k within its group of 8 blocks: lanes 0-3 and 8-11 hold block 2k, the others 2k + 1.
  const __m512i lane = _mm512_set_epi32(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0);
  const __m512i idx[4] = {lane, _mm512_add_epi32(lane, _mm512_set1_epi32(2)),
                          _mm512_add_epi32(lane, _mm512_set1_epi32(4)), _mm512_add_epi32(lane, _mm512_set1_epi32(6))};
  constexpr size_t kB = sizeof(typename F::Block);
  const StreamAhead ahead(w, ws, nr, static_cast<size_t>(L.nb) * kB, 8 * kB);
  for (int r = 0; r < nr; ++r) matvec_row<F>(L, idx, w + r * ws, xp, ahead, y + r);
}

// Prompt processing in panels of 16 rows (matmul_panel).  A panel's rows are unpacked once into
// the calling thread's buffer as unsigned quants q, interleaved so that one 64-byte vector holds
// four consecutive elements of all 16 rows (lane r = row r).  Every token then costs, per block,
// eight VPDPBUSD against four broadcast activation bytes each (the activations stay in their
// q8_0 rows), started from -16 * sum(a) for q5_0, then one conversion, scale multiply and FMA
// for the 16 rows, plus one FMA with the rows' mins for q4_1 / q5_1.  Each (row, token) result
// is the same sequence of operations wherever its panel and tokens fall, so results do not
// depend on the thread count.
static_assert(kPanelRows == 16, "a panel is one 16-lane vector of rows");

// Per block in the panel buffer: 8 vectors of quants, then 16 float scales d and 16 float mins
// m (zeros for q5_0 and for rows past the matrix).
constexpr size_t kPanelBlockBytes = 8 * 64 + 2 * 16 * sizeof(float);
// Per token and block in the prepared activations: int32 VPDPBUSD start (q5_0: -16 * sum(a),
// else 0), float dx, float dx * sum(a).
constexpr size_t kPanelXBytes = 12;

size_t panel_x_bytes(int64_t n, int64_t n_tokens) {
  return static_cast<size_t>(n / 32) * static_cast<size_t>(n_tokens) * kPanelXBytes;
}

size_t panel_bytes(int64_t n) { return static_cast<size_t>(n / 32) * kPanelBlockBytes; }

template <typename F>
void panel_prepare(int64_t n, int64_t n_tokens, const void* vxq, size_t xs, void* vxp) {
  const int64_t nb = n / 32;
  auto* out = static_cast<uint8_t*>(vxp);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const auto* xb = reinterpret_cast<const block_q8_0*>(static_cast<const uint8_t*>(vxq) + t * xs);
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[b].qs));
      const int32_t sum = avx2::hsum_i32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), q));
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

// The 32 unsigned quants of a block in element order.
template <typename F>
__m256i block_quants(const typename F::Block& blk) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m256i u = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m4), _mm_and_si128(v, m4));
  if constexpr (std::is_same_v<typename F::Block, block_q4_1>) {
    return u;
  } else {
    uint32_t h;  // bit j is bit 4 of element j, which is byte j here
    std::memcpy(&h, blk.qh, 4);
    return _mm256_mask_add_epi8(u, _cvtu32_mask32(h), u, _mm256_set1_epi8(0x10));
  }
}

template <typename F>
void panel_repack(int64_t nb, const uint8_t* w, size_t ws, int nr, uint8_t* buf) {
  using Block = typename F::Block;
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* blk = buf + b * kPanelBlockBytes;
    auto* d = reinterpret_cast<float*>(blk + 8 * 64);
    float* m = d + 16;
    for (int r = 0; r < kPanelRows; ++r) {
      alignas(32) uint32_t q4[8] = {};  // dword j: elements 4j..4j+3
      d[r] = 0.0f;
      m[r] = 0.0f;
      if (r < nr) {
        const Block& src = reinterpret_cast<const Block*>(w + r * ws)[b];
        _mm256_store_si256(reinterpret_cast<__m256i*>(q4), block_quants<F>(src));
        d[r] = _cvtsh_ss(src.d);
        if constexpr (F::kHasMin) m[r] = _cvtsh_ss(src.m);
      }
      for (int j = 0; j < 8; ++j) std::memcpy(blk + j * 64 + r * 4, &q4[j], 4);
    }
  }
}

template <typename F, int NT>
void panel_tokens(int64_t nb, const uint8_t* buf, const uint8_t* xq, size_t xs, const uint8_t* xp, float* y,
                  int64_t ldy, __mmask16 rows) {
  __m512 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = buf + b * kPanelBlockBytes;
    __m512i wv[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) wv[j] = _mm512_load_si512(blk + j * 64);
    const __m512 d = _mm512_load_ps(blk + 8 * 64);
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const uint8_t* qs = xq + t * xs + b * sizeof(block_q8_0) + 2;
      const uint8_t* e = xp + (t * nb + b) * kPanelXBytes;
      int32_t start;
      float dx;
      std::memcpy(&start, e, 4);
      std::memcpy(&dx, e + 4, 4);
      __m512i s = _mm512_set1_epi32(start);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        int32_t x4;
        std::memcpy(&x4, qs + 4 * j, 4);
        s = _mm512_dpbusd_epi32(s, wv[j], _mm512_set1_epi32(x4));
      }
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(d, _mm512_set1_ps(dx)), acc[t]);
      if constexpr (F::kHasMin) {
        float sx;
        std::memcpy(&sx, e + 8, 4);
        acc[t] = _mm512_fmadd_ps(_mm512_load_ps(blk + 8 * 64 + 64), _mm512_set1_ps(sx), acc[t]);
      }
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * ldy, rows, acc[t]);
}

template <typename F>
void panel(int64_t n, const void* w, size_t ws, int nr, const void* vxq, size_t xs, const void* vxp, int64_t n_tokens,
           float* y, int64_t ldy, void* tmp) {
  const int64_t nb = n / 32;
  auto* buf = static_cast<uint8_t*>(tmp);
  panel_repack<F>(nb, static_cast<const uint8_t*>(w), ws, nr, buf);
  const auto* xq = static_cast<const uint8_t*>(vxq);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const auto rows = static_cast<__mmask16>((1u << nr) - 1);
  const size_t xp_token = static_cast<size_t>(nb) * kPanelXBytes;
  int64_t t = 0;
  for (; t + 8 <= n_tokens; t += 8) panel_tokens<F, 8>(nb, buf, xq + t * xs, xs, xp + t * xp_token, y + t * ldy, ldy, rows);
  for (; t + 4 <= n_tokens; t += 4) panel_tokens<F, 4>(nb, buf, xq + t * xs, xs, xp + t * xp_token, y + t * ldy, ldy, rows);
  for (; t < n_tokens; ++t) panel_tokens<F, 1>(nb, buf, xq + t * xs, xs, xp + t * xp_token, y + t * ldy, ldy, rows);
}

// Activations to Q8_0, bit-identical to gguf::quantize_row_q8_0 (the scalar path's roundf,
// half away from zero, and the same float operations for d and 1/d), so each level's results
// differ from the scalar ones only in summation order.  For single-token rows of a few thousand
// columns the scalar version (a libm roundf per element) costs as much as the matvec itself.
void quantize_x_q8_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_0*>(vy);
  const __m512 half = _mm512_set1_ps(0.5f);
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 sign = _mm512_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / 32; ++i) {
    const __m512 v[2] = {_mm512_loadu_ps(x + 32 * i), _mm512_loadu_ps(x + 32 * i + 16)};
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v[0]), _mm512_abs_ps(v[1])));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    for (int h = 0; h < 2; ++h) {
      const __m512 s = _mm512_mul_ps(v[h], _mm512_set1_ps(id));
      // roundf: truncate, then step away from zero when the dropped fraction is >= 0.5.
      const __m512 t = _mm512_roundscale_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(s, t)), half, _CMP_GE_OQ);
      const __m512 r = _mm512_mask_add_ps(t, up, t, _mm512_or_ps(_mm512_and_ps(s, sign), one));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16 * h), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(r)));
    }
  }
}

template <typename F>
void install(KernelTable& t, TensorType type) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(type)];
  k.quantize_x = quantize_x_q8_0;
  k.vec_dot = vec_dot<F>;
  k.matvec_x_bytes = matvec_x_bytes<F>;
  k.matvec_prepare = matvec_prepare<F>;
  k.matvec_rows = matvec_rows<F>;
  k.matmul_x_bytes = panel_x_bytes;
  k.matmul_prepare = panel_prepare<F>;
  k.matmul_panel_bytes = panel_bytes;
  k.matmul_panel = panel<F>;
}

}  // namespace

void install_avx512_legacy_quants(KernelTable& t) {
  install<Q4_1>(t, TensorType::kQ4_1);
  install<Q5_0>(t, TensorType::kQ5_0);
  install<Q5_1>(t, TensorType::kQ5_1);
}

}  // namespace plumb::kernels
