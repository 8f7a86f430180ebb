// AVX2 (+FMA, F16C) prompt processing for q4_K, q5_K and q6_K weights in panels of 16 rows, on
// CPUs without AVX-512 (at the AVX-512 level matmul_panel_kquants_avx512.cpp replaces these).
//
// A panel is repacked once into the calling thread's buffer as two halves of 8 rows side by
// side: per super-block, 64 pairs of vectors, vector v of a half = elements 4v..4v+3 of its 8
// rows as unsigned bytes (dword lane r = row r; an 8x8 dword transpose, as for q4_0 in
// matmul_panel_avx2.cpp), followed by the rows' sub-block scales and the int16 pairs and floats
// of the per-super-block terms.  q4_K and q5_K values are already unsigned (0..15, 0..31); q6_K
// keeps its stored q + 32 (0..63).
//
// Per token, each broadcast of 4 activation bytes meets the vector of both halves in VPMADDUBSW
// (int16 pair sums, never saturating: |pair| <= 2 * 63 * 128).  Vectors of one sub-block are
// summed in int16 as far as that cannot overflow (q4_K: all 8, 8 * 2 * 15 * 128 = 30720; q5_K:
// 4, 4 * 2 * 31 * 128 = 31744; q6_K: 2, 2 * 2 * 63 * 128 = 32256), then VPMADDWD with the rows'
// sub-block scale (in both int16 halves of the row's dword) adds them into the super-block's
// int32 sum, which is exact.  The activation-sum terms are VPMADDWD of per-row int16 pairs with
// broadcast pairs of activation sums: q4_K/q5_K's min term sum_j m_j * (sum of sub-block j's
// activations), from the pairwise Q8_K bsums that prepare() lays out; q6_K's
// -32 * sum_k sc_k * bsum_k (the -32 folded into the repacked scale pairs, which stay in int16)
// starts the super-block's integer sum.  Then one conversion, scale and FMA (two with the mins)
// per super-block, 8 rows and token: no horizontal sums and no unpacking in the inner loop.
// Tiles of 4 tokens keep each weight vector load for 4 multiplies; VPMADDUBSW, VPADDW and the
// broadcasts then fill the vector pipes, so 16 rows per broadcast rather than 8 is what made
// this faster than streaming the tokens past each half in turn (q4_K 2048x2048, 128 tokens:
// ~4.0 vs ~4.6 ms).  Each (row, token) result is the same sequence of operations wherever its
// panel and token tile fall, so results do not depend on the thread count.
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

constexpr int kHalfRows = 8;
constexpr int kHalves = 2;
static_assert(kPanelRows == kHalves * kHalfRows, "a panel is two 8-lane halves of rows");

enum class Kind { kQ4K, kQ5K, kQ6K };

template <Kind K>
struct Layout {
  using Block = std::conditional_t<K == Kind::kQ4K, block_q4_K,
                                   std::conditional_t<K == Kind::kQ5K, block_q5_K, block_q6_K>>;
  static constexpr bool kAsym = K != Kind::kQ6K;      // d * sc * q - dmin * m
  static constexpr int kSubBlocks = kAsym ? 8 : 16;  // per super-block
  static constexpr int kSubVectors = 64 / kSubBlocks;
  // Weight vectors summed in int16 before the scale multiply (see the top of the file).
  static constexpr int kGroup = K == Kind::kQ4K ? 8 : K == Kind::kQ5K ? 4 : 2;
  // Panel buffer, per super-block, each item one vector per half (half 0, then half 1):
  // 64 weight vectors; kSubBlocks scale vectors; int16 pair vectors (kAsym: 4, the mins
  // (m_2k, m_2k+1); q6_K: 8, -32 * (sc_2k, sc_2k+1)); the float d, then (kAsym) dmin.
  static constexpr size_t kItem = 32 * kHalves;
  static constexpr size_t kScales = 64 * kItem;
  static constexpr size_t kPairs = kScales + kSubBlocks * kItem;
  static constexpr int kNumPairs = kAsym ? 4 : 8;
  static constexpr size_t kD = kPairs + kNumPairs * kItem;
  static constexpr size_t kDmin = kD + kItem;
  static constexpr size_t kBlockBytes = kAsym ? kDmin + kItem : kD + kItem;
  // prepare() output per token and super-block (kAsym only): 4 dwords, the int16 pairs
  // (s_2k, s_2k+1) of the sub-block activation sums.  q6_K reads the Q8_K bsums directly.
  static constexpr size_t kPrepBytes = kAsym ? 16 : 0;
};

// Tokens per pass over the panel (measured: 4 beat 2 and 3).
constexpr int kTokenTile = 4;

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
  if constexpr (Layout<K>::kAsym) {
    const int64_t nsb = n / kQK_K;
    auto* out = static_cast<uint8_t*>(vxp);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const auto* xb = reinterpret_cast<const block_q8_K*>(static_cast<const uint8_t*>(vxq) + t * xs);
      for (int64_t i = 0; i < nsb; ++i) {
        // bsums cover 16 elements; adjacent pairs make the 32-element sub-block sums (|s| <= 4096).
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(xb[i].bsums));
        const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(xb[i].bsums + 8));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (t * nsb + i) * 16), _mm_hadd_epi16(lo, hi));
      }
    }
  } else {
    (void)n, (void)n_tokens, (void)vxq, (void)xs, (void)vxp;
  }
}

// Row metadata of one super-block, before interleaving.
struct RowMeta {
  int16_t sc[16];
  uint32_t pairs[8];
  float d;
  float dmin;
};

inline uint32_t pair16(int a, int b) {
  return static_cast<uint16_t>(static_cast<int16_t>(a)) | static_cast<uint32_t>(static_cast<uint16_t>(b)) << 16;
}

// Unpacks super-block i of a row into 256 unsigned bytes in element order plus its metadata.
template <Kind K>
void unpack_row(const uint8_t* row, int64_t i, uint8_t* u, RowMeta& meta) {
  SuperBlockScales s;
  if constexpr (Layout<K>::kAsym) {
    unpack_superblock_asym<typename Layout<K>::Block>(row, i, u, s);
    for (int j = 0; j < 8; ++j) meta.sc[j] = s.sc[j];
    for (int k = 0; k < 4; ++k) meta.pairs[k] = pair16(s.m[2 * k], s.m[2 * k + 1]);
  } else {
    unpack_superblock_q6_K(row, i, u, s);
    for (int k = 0; k < 16; ++k) meta.sc[k] = s.sc[k];
    // |-32 * sc| <= 4096 fits int16; with |bsum| <= 16 * 128 a pair's VPMADDWD stays in int32.
    for (int k = 0; k < 8; ++k) meta.pairs[k] = pair16(-32 * s.sc[2 * k], -32 * s.sc[2 * k + 1]);
  }
  meta.d = s.d;
  meta.dmin = s.dmin;
}

// v[r] (dword j = elements 4j..4j+3 of row r) becomes v[j] (dword r = those of row r).
inline void transpose8x8_epi32(__m256i (&v)[8]) {
  __m256i t[8], u[8];
  for (int k = 0; k < 4; ++k) {
    t[2 * k] = _mm256_unpacklo_epi32(v[2 * k], v[2 * k + 1]);
    t[2 * k + 1] = _mm256_unpackhi_epi32(v[2 * k], v[2 * k + 1]);
  }
  for (int k = 0; k < 2; ++k) {
    u[4 * k + 0] = _mm256_unpacklo_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 1] = _mm256_unpackhi_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 2] = _mm256_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
    u[4 * k + 3] = _mm256_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
  }
  for (int j = 0; j < 4; ++j) {
    v[j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x20);
    v[4 + j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x31);
  }
}

// The panel starting at row `w`, `rows` (1..kPanelRows) of them real; the rest are zeros with
// zero scales, so they compute to 0 and are never stored.
template <Kind K>
void repack(int64_t nsb, const uint8_t* w, size_t ws, int rows, uint8_t* buf) {
  using L = Layout<K>;
  alignas(32) uint8_t u[kPanelRows][kQK_K];
  // Short row streams are too many for the hardware prefetcher (as in the AVX-512 panels).
  constexpr int64_t kDist = 2;
  constexpr size_t kBlock = sizeof(typename L::Block);
  for (int r = 0; r < rows; ++r) prefetch_l2(w + r * ws, kDist * kBlock);
  for (int64_t i = 0; i < nsb; ++i) {
    if (i + kDist < nsb)
      for (int r = 0; r < rows; ++r) prefetch_l2(w + r * ws + (i + kDist) * kBlock, kBlock);
    uint8_t* blk = buf + i * L::kBlockBytes;
    // Row r is lane r % 8 of half r / 8: item k holds row r's dword at k * kPanelRows + r.
    auto* sc = reinterpret_cast<uint32_t*>(blk + L::kScales);
    auto* pairs = reinterpret_cast<uint32_t*>(blk + L::kPairs);
    auto* d = reinterpret_cast<float*>(blk + L::kD);
    auto* dmin = reinterpret_cast<float*>(blk + L::kDmin);
    for (int r = 0; r < kPanelRows; ++r) {
      RowMeta meta{};
      if (r < rows) {
        unpack_row<K>(w + r * ws, i, u[r], meta);
      } else {
        std::memset(u[r], 0, kQK_K);
      }
      for (int j = 0; j < L::kSubBlocks; ++j) sc[j * kPanelRows + r] = pair16(meta.sc[j], meta.sc[j]);
      for (int k = 0; k < L::kNumPairs; ++k) pairs[k * kPanelRows + r] = meta.pairs[k];
      d[r] = meta.d;
      if constexpr (L::kAsym) dmin[r] = meta.dmin;
    }
    for (int h = 0; h < kHalves; ++h) {
      for (int c = 0; c < 8; ++c) {
        __m256i v[8];
        for (int r = 0; r < kHalfRows; ++r)
          v[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(u[kHalfRows * h + r] + 32 * c));
        transpose8x8_epi32(v);
        for (int j = 0; j < 8; ++j)
          _mm256_store_si256(reinterpret_cast<__m256i*>(blk + (8 * c + j) * L::kItem + 32 * h), v[j]);
      }
    }
  }
}

inline __m256i bcast32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

inline __m256i load256(const uint8_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }

// v, opaque to the optimizer: GCC otherwise reassociates the int16 sums of a token into trees
// that keep every product live at once and spill most of them (q4_K 2048x2048, 128 tokens, 8-row
// passes: 6.1 ms with, 4.6 ms without the spills).
inline __m256i opaque(__m256i v) {
  __asm__("" : "+x"(v));
  return v;
}

constexpr size_t kQsOffset = offsetof(block_q8_K, qs);
constexpr size_t kBsumsOffset = offsetof(block_q8_K, bsums);

// NT tokens (rows xs bytes apart in xq; their prepared terms xps bytes apart at xp) against the
// repacked panel, `rows` of them real.
template <Kind K, int NT>
void token_tile(int64_t nsb, const uint8_t* buf, const uint8_t* xq, size_t xs, const uint8_t* xp, float* y,
                int64_t ldy, int rows) {
  using L = Layout<K>;
  constexpr int H = kHalves;
  const size_t xps = static_cast<size_t>(nsb) * L::kPrepBytes;
  __m256 acc[H][NT];
#pragma GCC unroll 8
  for (int h = 0; h < H; ++h)
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) acc[h][t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nsb; ++i) {
    const uint8_t* blk = buf + i * L::kBlockBytes;
    const uint8_t* xqi = xq + i * sizeof(block_q8_K);
    __m256i isum[H][NT];
    if constexpr (L::kAsym) {
#pragma GCC unroll 8
      for (int h = 0; h < H; ++h)
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) isum[h][t] = _mm256_setzero_si256();
    } else {
      // -32 * sum_k sc_k * bsum_k: q6_K's stored q + 32.
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const uint8_t* bs = xqi + t * xs + kBsumsOffset;
#pragma GCC unroll 8
        for (int h = 0; h < H; ++h) {
          __m256i m = _mm256_madd_epi16(load256(blk + L::kPairs + 32 * h), bcast32(bs));
#pragma GCC unroll 8
          for (int k = 1; k < 8; ++k)
            m = _mm256_add_epi32(m, _mm256_madd_epi16(load256(blk + L::kPairs + k * L::kItem + 32 * h), bcast32(bs + 4 * k)));
          isum[h][t] = m;
        }
      }
    }
    for (int j = 0; j < L::kSubBlocks; ++j) {
#pragma GCC unroll 8
      for (int g0 = 0; g0 < L::kSubVectors; g0 += L::kGroup) {
        __m256i s[H][NT];
#pragma GCC unroll 8
        for (int g = g0; g < g0 + L::kGroup; ++g) {
          const int v = L::kSubVectors * j + g;
          __m256i wv[H];
#pragma GCC unroll 8
          for (int h = 0; h < H; ++h) wv[h] = load256(blk + v * L::kItem + 32 * h);
#pragma GCC unroll 8
          for (int t = 0; t < NT; ++t) {
            const __m256i x = bcast32(xqi + t * xs + kQsOffset + 4 * v);
#pragma GCC unroll 8
            for (int h = 0; h < H; ++h) {
              const __m256i p = _mm256_maddubs_epi16(wv[h], x);
              s[h][t] = g == g0 ? p : opaque(_mm256_add_epi16(s[h][t], p));
            }
          }
        }
#pragma GCC unroll 8
        for (int h = 0; h < H; ++h) {
          const __m256i sc = load256(blk + L::kScales + j * L::kItem + 32 * h);
#pragma GCC unroll 8
          for (int t = 0; t < NT; ++t) isum[h][t] = _mm256_add_epi32(isum[h][t], _mm256_madd_epi16(s[h][t], sc));
        }
      }
    }
#pragma GCC unroll 8
    for (int h = 0; h < H; ++h) {
      const __m256 d = _mm256_load_ps(reinterpret_cast<const float*>(blk + L::kD + 32 * h));
      if constexpr (L::kAsym) {
        const __m256 dmin = _mm256_load_ps(reinterpret_cast<const float*>(blk + L::kDmin + 32 * h));
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) {
          const uint8_t* e = xp + t * xps + i * L::kPrepBytes;
          __m256i m = _mm256_madd_epi16(load256(blk + L::kPairs + 32 * h), bcast32(e));
#pragma GCC unroll 4
          for (int k = 1; k < 4; ++k)
            m = _mm256_add_epi32(m, _mm256_madd_epi16(load256(blk + L::kPairs + k * L::kItem + 32 * h), bcast32(e + 4 * k)));
          __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(isum[h][t]), d);
          f = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(m), dmin, f);
          acc[h][t] = _mm256_fmadd_ps(f, _mm256_set1_ps(load_f32(xqi + t * xs)), acc[h][t]);
        }
      } else {
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t)
          acc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[h][t]),
                                      _mm256_mul_ps(d, _mm256_set1_ps(load_f32(xqi + t * xs))), acc[h][t]);
      }
    }
  }
  for (int h = 0; h < H && h * kHalfRows < rows; ++h) {
    const int hr = rows - h * kHalfRows;
    if (hr >= kHalfRows) {
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) _mm256_storeu_ps(y + t * ldy + h * kHalfRows, acc[h][t]);
    } else {
      const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(hr), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      for (int t = 0; t < NT; ++t) _mm256_maskstore_ps(y + t * ldy + h * kHalfRows, mask, acc[h][t]);
    }
  }
}

template <Kind K>
void panel(int64_t n, const void* vw, size_t ws, int nr, const void* vxq, size_t xs, const void* vxp, int64_t n_tokens,
           float* y, int64_t ldy, void* tmp) {
  const int64_t nsb = n / kQK_K;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xq = static_cast<const uint8_t*>(vxq);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const size_t xps = static_cast<size_t>(nsb) * Layout<K>::kPrepBytes;
  auto* buf = static_cast<uint8_t*>(tmp);
  constexpr int NT = kTokenTile;
  repack<K>(nsb, w, ws, nr, buf);
  int64_t t = 0;
  for (; t + NT <= n_tokens; t += NT)
    token_tile<K, NT>(nsb, buf, xq + t * xs, xs, xp + t * xps, y + t * ldy, ldy, nr);
  for (; t + 2 <= n_tokens; t += 2) token_tile<K, 2>(nsb, buf, xq + t * xs, xs, xp + t * xps, y + t * ldy, ldy, nr);
  for (; t < n_tokens; ++t) token_tile<K, 1>(nsb, buf, xq + t * xs, xs, xp + t * xps, y + t * ldy, ldy, nr);
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

void install_avx2_kquant_panels(KernelTable& t) {
  install<Kind::kQ4K>(t, TensorType::kQ4_K);
  install<Kind::kQ5K>(t, TensorType::kQ5_K);
  install<Kind::kQ6K>(t, TensorType::kQ6_K);
}

}  // namespace plumb::kernels
