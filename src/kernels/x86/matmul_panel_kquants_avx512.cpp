// AVX-512 (VNNI) prompt processing for q4_K, q5_K and q6_K weights in panels of 16 rows.
//
// As for q4_0 (matmul_panel_avx512.cpp), a panel's rows are repacked once into the calling
// thread's buffer as unsigned bytes, interleaved so that one 64-byte vector holds four
// consecutive elements of all 16 rows (lane r = row r): q4_K and q5_K values are already
// unsigned (0..15, 0..31); q6_K keeps its stored q + 32 (0..63).  Next to each super-block's
// 64 weight vectors the repack stores the per-row sub-block scales as int32 vectors, the
// sub-block mins as int16 pairs (q4_K/q5_K) and the super-block scales d (and dmin) as floats.
//
// Per token, super-block and sub-block: VPDPBUSD against broadcast activation bytes (the
// activations stay in their Q8_K rows), one VPMULLD by the rows' sub-block scale and one add
// into the super-block's integer sum, which is exact.  q6_K's sub-block chains start from
// -32 * (sum of the sub-block's activations) so that q + 32 needs no unpacking; q4_K/q5_K's
// min term, dmin * sum_j m_j * (sum of sub-block j's activations), is four VPDPWSSD of the
// rows' min pairs with the activations' pairwise bsums.  Both activation terms come from the
// Q8_K bsums and are laid out once per call by prepare().  Then one conversion, scale and FMA
// (two for the mins) per super-block for 16 rows: no horizontal sums in the inner loop.
// Weight rows are prefetched into L2 ahead of the repack (sixteen short row streams defeat the
// hardware prefetcher).  Each (row, token) result is the same sequence of operations wherever
// its panel and token tile fall, so results do not depend on the thread count.
//
// Only intrinsics and file-local functions here (see dispatch.h for why).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "kernels/dispatch.h"
#include "kernels/kquants.h"
#include "kernels/x86/kquant_unpack.h"
#include "kernels/x86/prefetch.h"
#include "kernels/x86/simd_math_avx2.h"

namespace plumb::kernels {

namespace {

static_assert(kPanelRows == 16, "a panel is one 16-lane vector of rows");

enum class Kind { kQ4K, kQ5K, kQ6K };

template <Kind K>
struct Layout {
  using Block = std::conditional_t<K == Kind::kQ4K, block_q4_K,
                                   std::conditional_t<K == Kind::kQ5K, block_q5_K, block_q6_K>>;
  static constexpr bool kAsym = K != Kind::kQ6K;      // d * sc * q - dmin * m
  static constexpr int kSubBlocks = kAsym ? 8 : 16;  // per super-block
  // Panel buffer, per super-block: 64 weight vectors, kSubBlocks int32 scale vectors, then
  // (kAsym) 4 vectors of int16 min pairs and the float d and dmin vectors, else the float d.
  static constexpr size_t kScales = 64 * 64;
  static constexpr size_t kMins = kScales + kSubBlocks * 64;
  static constexpr size_t kD = kAsym ? kMins + 4 * 64 : kMins;
  static constexpr size_t kDmin = kD + 64;
  static constexpr size_t kBlockBytes = kAsym ? kDmin + 64 : kD + 64;
  // prepare() output per token and super-block: kAsym: 4 dwords, the int16 pairs (s_2k, s_2k+1)
  // of the sub-block activation sums; q6_K: 16 int32 -32 * (sum of sub-block k's activations).
  static constexpr size_t kPrepBytes = kAsym ? 16 : 64;
};

template <Kind K>
size_t x_bytes(int64_t n, int64_t n_tokens) {
  return static_cast<size_t>(n / kQK_K) * static_cast<size_t>(n_tokens) * Layout<K>::kPrepBytes;
}

template <Kind K>
size_t panel_bytes(int64_t n) {
  return static_cast<size_t>(n / kQK_K) * Layout<K>::kBlockBytes;
}

template <Kind K>
void prepare(int64_t n, int64_t n_tokens, const void* vxq, size_t xs, void* vxp) {
  const int64_t nsb = n / kQK_K;
  auto* out = static_cast<uint8_t*>(vxp);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const auto* xb = reinterpret_cast<const block_q8_K*>(static_cast<const uint8_t*>(vxq) + t * xs);
    for (int64_t i = 0; i < nsb; ++i) {
      uint8_t* e = out + (t * nsb + i) * Layout<K>::kPrepBytes;
      if constexpr (Layout<K>::kAsym) {
        // bsums cover 16 elements; adjacent pairs make the 32-element sub-block sums (|s| <= 4096).
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(xb[i].bsums));
        const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(xb[i].bsums + 8));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(e), _mm_hadd_epi16(lo, hi));
      } else {
        const __m512i s = _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[i].bsums)));
        _mm512_storeu_si512(e, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(s, 5)));
      }
    }
  }
}

// Row metadata of one super-block, before interleaving.
struct RowMeta {
  int32_t sc[16];
  uint32_t min_pairs[4];
  float d;
  float dmin;
};

// Unpacks super-block i of a row into 256 unsigned bytes in element order plus its metadata.
template <Kind K>
void unpack_row(const uint8_t* row, int64_t i, uint8_t* u, RowMeta& meta) {
  SuperBlockScales s;
  if constexpr (Layout<K>::kAsym) {
    unpack_superblock_asym<typename Layout<K>::Block>(row, i, u, s);
    for (int j = 0; j < 8; ++j) meta.sc[j] = s.sc[j];
    for (int k = 0; k < 4; ++k) meta.min_pairs[k] = s.m[2 * k] | static_cast<uint32_t>(s.m[2 * k + 1]) << 16;
  } else {
    unpack_superblock_q6_K(row, i, u, s);
    for (int k = 0; k < 16; ++k) meta.sc[k] = s.sc[k];
  }
  meta.d = s.d;
  meta.dmin = s.dmin;
}

// 16 x 16 dwords: out[c] = {in[0][c], ..., in[15][c]}.
inline void transpose16x16(const __m512i in[16], uint8_t* out) {
  __m512i t[16], v[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
  }
  // v[4i + k], 128-bit lane L: column 4L + k of rows 4i .. 4i + 3.
  for (int i = 0; i < 4; ++i) {
    v[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    v[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    v[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    v[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int k = 0; k < 4; ++k) {
    const __m512i x0 = _mm512_shuffle_i32x4(v[k], v[4 + k], 0x44);
    const __m512i x1 = _mm512_shuffle_i32x4(v[k], v[4 + k], 0xEE);
    const __m512i y0 = _mm512_shuffle_i32x4(v[8 + k], v[12 + k], 0x44);
    const __m512i y1 = _mm512_shuffle_i32x4(v[8 + k], v[12 + k], 0xEE);
    _mm512_store_si512(out + (k + 0) * 64, _mm512_shuffle_i32x4(x0, y0, 0x88));
    _mm512_store_si512(out + (k + 4) * 64, _mm512_shuffle_i32x4(x0, y0, 0xDD));
    _mm512_store_si512(out + (k + 8) * 64, _mm512_shuffle_i32x4(x1, y1, 0x88));
    _mm512_store_si512(out + (k + 12) * 64, _mm512_shuffle_i32x4(x1, y1, 0xDD));
  }
}

template <Kind K>
void repack(int64_t nsb, const uint8_t* w, size_t ws, int nr, uint8_t* buf) {
  using L = Layout<K>;
  alignas(64) uint8_t u[kPanelRows][kQK_K];
  // Sixteen short row streams are too many for the hardware prefetcher: without prefetching
  // (here and in panel()), repacking waited on every row's loads and took a quarter of the
  // panel's time at 128 tokens (now under a tenth).
  constexpr int64_t kDist = 2;
  constexpr size_t kBlock = sizeof(typename L::Block);
  for (int r = 0; r < nr; ++r) prefetch_l2(w + r * ws, kDist * kBlock);
  for (int64_t i = 0; i < nsb; ++i) {
    if (i + kDist < nsb)
      for (int r = 0; r < nr; ++r) prefetch_l2(w + r * ws + (i + kDist) * kBlock, kBlock);
    uint8_t* blk = buf + i * L::kBlockBytes;
    auto* sc = reinterpret_cast<int32_t*>(blk + L::kScales);
    auto* mins = reinterpret_cast<uint32_t*>(blk + L::kMins);
    auto* d = reinterpret_cast<float*>(blk + L::kD);
    auto* dmin = reinterpret_cast<float*>(blk + L::kDmin);
    for (int r = 0; r < kPanelRows; ++r) {
      RowMeta meta{};
      if (r < nr) {
        unpack_row<K>(w + r * ws, i, u[r], meta);
      } else {
        std::memset(u[r], 0, kQK_K);
      }
      for (int j = 0; j < L::kSubBlocks; ++j) sc[j * kPanelRows + r] = meta.sc[j];
      d[r] = meta.d;
      if constexpr (L::kAsym) {
        for (int k = 0; k < 4; ++k) mins[k * kPanelRows + r] = meta.min_pairs[k];
        dmin[r] = meta.dmin;
      }
    }
    for (int q = 0; q < 4; ++q) {
      __m512i rows[kPanelRows];
      for (int r = 0; r < kPanelRows; ++r) rows[r] = _mm512_load_si512(u[r] + 64 * q);
      transpose16x16(rows, blk + q * 16 * 64);
    }
  }
}

inline __m512i bcast32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

constexpr size_t kQsOffset = offsetof(block_q8_K, qs);

template <Kind K, int NT>
void token_tile(int64_t nsb, const uint8_t* buf, const uint8_t* xq, size_t xs, const uint8_t* xp, float* y,
                int64_t ldy, __mmask16 rows) {
  using L = Layout<K>;
  __m512 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < nsb; ++i) {
    const uint8_t* blk = buf + i * L::kBlockBytes;
    const uint8_t* xqi = xq + i * sizeof(block_q8_K);
    const uint8_t* xpi = xp + i * L::kPrepBytes;
    const size_t xps = static_cast<size_t>(nsb) * L::kPrepBytes;  // prepare() token stride
    __m512i isum[NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) isum[t] = _mm512_setzero_si512();
    if constexpr (L::kAsym) {
      for (int j = 0; j < 8; ++j) {
        __m512i wv[8];
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) wv[g] = _mm512_load_si512(blk + (8 * j + g) * 64);
        const __m512i sc = _mm512_load_si512(blk + L::kScales + j * 64);
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) {
          const uint8_t* qs = xqi + t * xs + kQsOffset + 32 * j;
          __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv[0], bcast32(qs));
#pragma GCC unroll 8
          for (int g = 1; g < 8; ++g) s = _mm512_dpbusd_epi32(s, wv[g], bcast32(qs + 4 * g));
          isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s, sc));
        }
      }
      __m512i mp[4];
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) mp[k] = _mm512_load_si512(blk + L::kMins + k * 64);
      const __m512 d = _mm512_load_ps(blk + L::kD);
      const __m512 dmin = _mm512_load_ps(blk + L::kDmin);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const uint8_t* e = xpi + t * xps;
        __m512i m = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mp[0], bcast32(e));
#pragma GCC unroll 4
        for (int k = 1; k < 4; ++k) m = _mm512_dpwssd_epi32(m, mp[k], bcast32(e + 4 * k));
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(isum[t]), d);
        f = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m), dmin, f);
        acc[t] = _mm512_fmadd_ps(f, _mm512_set1_ps(load_f32(xqi + t * xs)), acc[t]);
      }
    } else {
      // Sub-blocks of 16 elements (4 vectors), two at a time.
      for (int j = 0; j < 16; j += 2) {
        __m512i wv[8];
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) wv[g] = _mm512_load_si512(blk + (4 * j + g) * 64);
        const __m512i sc0 = _mm512_load_si512(blk + L::kScales + j * 64);
        const __m512i sc1 = _mm512_load_si512(blk + L::kScales + (j + 1) * 64);
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) {
          const uint8_t* qs = xqi + t * xs + kQsOffset + 16 * j;
          const uint8_t* e = xpi + t * xps + 4 * j;
          __m512i s0 = bcast32(e);
          __m512i s1 = bcast32(e + 4);
#pragma GCC unroll 4
          for (int g = 0; g < 4; ++g) {
            s0 = _mm512_dpbusd_epi32(s0, wv[g], bcast32(qs + 4 * g));
            s1 = _mm512_dpbusd_epi32(s1, wv[4 + g], bcast32(qs + 16 + 4 * g));
          }
          const __m512i p = _mm512_add_epi32(_mm512_mullo_epi32(s0, sc0), _mm512_mullo_epi32(s1, sc1));
          isum[t] = _mm512_add_epi32(isum[t], p);
        }
      }
      const __m512 d = _mm512_load_ps(blk + L::kD);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t)
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, _mm512_set1_ps(load_f32(xqi + t * xs))),
                                 acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * ldy, rows, acc[t]);
}

template <Kind K>
void panel(int64_t n, const void* w, size_t ws, int nr, const void* vxq, size_t xs, const void* vxp, int64_t n_tokens,
           float* y, int64_t ldy, void* tmp) {
  const int64_t nsb = n / kQK_K;
  auto* buf = static_cast<uint8_t*>(tmp);
  repack<K>(nsb, static_cast<const uint8_t*>(w), ws, nr, buf);
  const auto* xq = static_cast<const uint8_t*>(vxq);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const size_t xps = static_cast<size_t>(nsb) * Layout<K>::kPrepBytes;
  const auto rows = static_cast<__mmask16>((1u << nr) - 1);
  // While the tokens stream past this panel, the rows of the next two panels (with one or two
  // threads, the next one this thread takes) are brought into L2 a slice per token tile, so the
  // next repack does not wait on memory.  Past the end of the matrix this reads nothing.
  const auto* wb = static_cast<const uint8_t*>(w);
  const size_t row_bytes = static_cast<size_t>(nsb) * sizeof(typename Layout<K>::Block);
  const int64_t n_tiles = n_tokens / 8;
  constexpr int64_t kAhead = 2 * kPanelRows;
  int64_t t = 0;
  for (int64_t k = 0; t + 8 <= n_tokens; t += 8, ++k) {
    for (int64_t r = k * kAhead / n_tiles; r < (k + 1) * kAhead / n_tiles; ++r)
      prefetch_l2(wb + (kPanelRows + r) * ws, row_bytes);
    token_tile<K, 8>(nsb, buf, xq + t * xs, xs, xp + t * xps, y + t * ldy, ldy, rows);
  }
  for (; t + 4 <= n_tokens; t += 4) token_tile<K, 4>(nsb, buf, xq + t * xs, xs, xp + t * xps, y + t * ldy, ldy, rows);
  for (; t < n_tokens; ++t) token_tile<K, 1>(nsb, buf, xq + t * xs, xs, xp + t * xps, y + t * ldy, ldy, rows);
}

template <Kind K>
void install(KernelTable& t, TensorType type) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(type)];
  k.matmul_x_bytes = x_bytes<K>;
  k.matmul_prepare = prepare<K>;
  k.matmul_panel_bytes = panel_bytes<K>;
  k.matmul_panel = panel<K>;
}

}  // namespace

void install_avx512_kquant_panels(KernelTable& t) {
  install<Kind::kQ4K>(t, TensorType::kQ4_K);
  install<Kind::kQ5K>(t, TensorType::kQ5_K);
  install<Kind::kQ6K>(t, TensorType::kQ6_K);
}

}  // namespace plumb::kernels
