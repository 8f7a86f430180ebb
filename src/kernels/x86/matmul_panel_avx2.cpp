// AVX2 (+FMA, F16C) prompt processing for q4_0, q8_0 and f16 weights in panels of 16 rows, on
// CPUs without AVX-512 (f16: see f16_panel below).
//
// A panel is repacked once into the calling thread's buffer as two half-panels of 8 rows; per
// 32-element block a half holds 8 vectors, vector j = elements 4j..4j+3 of all 8 rows (dword
// lane r = row r; an 8x8 dword transpose of the rows' blocks), then the 8 row scales as floats.
// Every token then meets each weight vector with one broadcast of its 4 activation bytes:
//   q4_0: the stored nibbles q (w = q - 8) are unsigned, so VPMADDUBSW(q, x) gives int16 pair
//         sums <= 2 * 15 * 128; the 8 vectors of a block are summed in int16 (<= 30720, no
//         saturation) and widened by one VPMADDWD, plus -8 * (sum of the block's activations),
//         precomputed per (token, block).
//   q8_0: w + 128 would overflow VPMADDUBSW's int16 pairs (2 * 255 * 127), so |w| is the
//         unsigned operand and w's sign moves onto the broadcast activations (VPSIGNB); each
//         vector is widened by VPMADDWD and summed in int32.
// Then one conversion, scale multiply and FMA per block covers 8 rows: no horizontal sums and no
// nibble unpacking in the inner loop.  Weight vectors stay in registers across a tile of tokens.
// Each (row, token) result is the same sequence of operations wherever its panel and token tile
// fall, so results do not depend on the thread count.
//
// Only intrinsics and file-local functions here (see dispatch.h for why).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <cstring>

#include "gguf/quantize.h"
#include "kernels/dispatch.h"
#include "kernels/x86/simd_math_avx2.h"

namespace plumb::kernels {

namespace {

using gguf::block_q4_0;
using gguf::block_q8_0;

static_assert(kPanelRows == 16, "a panel is two 8-lane halves of rows");
constexpr int kHalfRows = 8;

// Per block of a half panel: 8 weight vectors, then 8 float row scales.
constexpr size_t kHalfBlockBytes = 8 * 32 + kHalfRows * sizeof(float);

enum class Kind { kQ4_0, kQ8_0 };

// Tokens per pass over a half panel (the accumulators must stay in registers).
template <Kind K>
constexpr int kTokenTile = K == Kind::kQ4_0 ? 6 : 4;

size_t x_bytes(int64_t n, int64_t n_tokens) { return static_cast<size_t>(n / 32) * static_cast<size_t>(n_tokens) * 8; }

size_t panel_bytes(int64_t n) { return 2 * static_cast<size_t>(n / 32) * kHalfBlockBytes; }

// Per token and block: {int32 zero-point term (q4_0: -8 * sum of the 32 activations; q8_0: 0),
// float activation scale}.
template <Kind K>
void prepare(int64_t n, int64_t n_tokens, const void* vxq, size_t xs, void* vxp) {
  const int64_t nb = n / 32;
  auto* out = static_cast<uint8_t*>(vxp);
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const auto* xb = reinterpret_cast<const block_q8_0*>(static_cast<const uint8_t*>(vxq) + t * xs);
    for (int64_t b = 0; b < nb; ++b) {
      int32_t off = 0;
      if constexpr (K == Kind::kQ4_0) {
        const __m256i q = avx2::load_i8x32(xb[b].qs);
        off = -8 * avx2::hsum_i32(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16));
      }
      const float dx = _cvtsh_ss(xb[b].d);
      uint8_t* e = out + (t * nb + b) * 8;
      std::memcpy(e, &off, 4);
      std::memcpy(e + 4, &dx, 4);
    }
  }
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

// h with 16-bit lane r set to d (r is a constant once the caller's loop is unrolled).
inline __m128i insert_u16(__m128i h, int r, uint16_t d) {
  switch (r) {
    case 0: return _mm_insert_epi16(h, d, 0);
    case 1: return _mm_insert_epi16(h, d, 1);
    case 2: return _mm_insert_epi16(h, d, 2);
    case 3: return _mm_insert_epi16(h, d, 3);
    case 4: return _mm_insert_epi16(h, d, 4);
    case 5: return _mm_insert_epi16(h, d, 5);
    case 6: return _mm_insert_epi16(h, d, 6);
    default: return _mm_insert_epi16(h, d, 7);
  }
}

// The half panel starting at row `w` with `rows` (1..8) real rows; the rest are zeros with zero
// scales, so they compute to 0 and are never stored.
template <Kind K>
void repack_half(int64_t nb, const uint8_t* w, size_t ws, int rows, uint8_t* hb) {
  const __m128i m4 = _mm_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; ++b) {
    __m256i v[8];
    __m128i h = _mm_setzero_si128();  // the fp16 row scales, converted together
#pragma GCC unroll 8
    for (int r = 0; r < kHalfRows; ++r) {
      if (r >= rows) {
        v[r] = _mm256_setzero_si256();
        continue;
      }
      const uint8_t* row = w + r * ws;
      uint16_t d;
      if constexpr (K == Kind::kQ4_0) {
        const auto* q = reinterpret_cast<const block_q4_0*>(row) + b;
        const __m128i p = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q->qs));
        v[r] = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(p, 4), m4), _mm_and_si128(p, m4));
        d = q->d;
      } else {
        const auto* q = reinterpret_cast<const block_q8_0*>(row) + b;
        v[r] = avx2::load_i8x32(q->qs);
        d = q->d;
      }
      h = insert_u16(h, r, d);
    }
    transpose8x8_epi32(v);
    uint8_t* blk = hb + b * kHalfBlockBytes;
    for (int j = 0; j < 8; ++j) _mm256_store_si256(reinterpret_cast<__m256i*>(blk + 32 * j), v[j]);
    _mm256_store_ps(reinterpret_cast<float*>(blk + 256), _mm256_cvtph_ps(h));
  }
}

inline __m256i broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// NT tokens (rows xs bytes apart in xq; their prepared terms at xp) against one half panel.
template <Kind K, int NT>
void token_tile(int64_t nb, const uint8_t* hb, const uint8_t* xq, size_t xs, const uint8_t* xp, float* y,
                int64_t ldy, int rows) {
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = hb + b * kHalfBlockBytes;
    const uint8_t* qs = xq + b * sizeof(block_q8_0) + 2;
    __m256i s[NT];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(blk + 32 * j));
      if constexpr (K == Kind::kQ4_0) {
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) {
          const __m256i p = _mm256_maddubs_epi16(w, broadcast4(qs + t * xs + 4 * j));
          s[t] = j == 0 ? p : _mm256_add_epi16(s[t], p);
        }
      } else {
        const __m256i aw = _mm256_sign_epi8(w, w);
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) {
          const __m256i x = _mm256_sign_epi8(broadcast4(qs + t * xs + 4 * j), w);
          const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, x), ones16);
          s[t] = j == 0 ? p : _mm256_add_epi32(s[t], p);
        }
      }
    }
    const __m256 sc = _mm256_load_ps(reinterpret_cast<const float*>(blk + 256));
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const uint8_t* e = xp + (t * nb + b) * 8;
      float dx;
      std::memcpy(&dx, e + 4, 4);
      __m256i s32 = s[t];
      if constexpr (K == Kind::kQ4_0) {
        int32_t off;
        std::memcpy(&off, e, 4);
        s32 = _mm256_add_epi32(_mm256_madd_epi16(s32, ones16), _mm256_set1_epi32(off));
      }
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), _mm256_mul_ps(sc, _mm256_set1_ps(dx)), acc[t]);
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

template <Kind K>
void panel(int64_t n, const void* vw, size_t ws, int nr, const void* vxq, size_t xs, const void* vxp, int64_t n_tokens,
           float* y, int64_t ldy, void* tmp) {
  const int64_t nb = n / 32;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xq = static_cast<const uint8_t*>(vxq);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  auto* buf = static_cast<uint8_t*>(tmp);
  constexpr int NT = kTokenTile<K>;
  for (int h = 0; h * kHalfRows < nr; ++h) {
    const int rows = nr - h * kHalfRows < kHalfRows ? nr - h * kHalfRows : kHalfRows;
    uint8_t* hb = buf + h * nb * kHalfBlockBytes;
    repack_half<K>(nb, w + h * kHalfRows * ws, ws, rows, hb);
    float* yh = y + h * kHalfRows;
    int64_t t = 0;
    for (; t + NT <= n_tokens; t += NT)
      token_tile<K, NT>(nb, hb, xq + t * xs, xs, xp + t * nb * 8, yh + t * ldy, ldy, rows);
    for (; t + 2 <= n_tokens; t += 2)
      token_tile<K, 2>(nb, hb, xq + t * xs, xs, xp + t * nb * 8, yh + t * ldy, ldy, rows);
    for (; t < n_tokens; ++t) token_tile<K, 1>(nb, hb, xq + t * xs, xs, xp + t * nb * 8, yh + t * ldy, ldy, rows);
  }
}

// F16 weights x f32 activations: as the AVX-512 FloatPanel (matmul_panel_avx512.cpp), the panel
// is converted once to f32 and transposed (16 rows per column, two vectors of 8), then each
// token costs one broadcast and two FMAs per column for all 16 rows, 6 tokens at a time (12
// accumulators of AVX2's 16 registers).  It replaces the 4-row x 2-token GEMM tile, which
// converted every weight again for each pair of tokens (docs/kernels.md has the figures).
namespace f16_panel {

// An 8 x 8 block of floats transposed in registers: on entry v[r] holds row r's 8 values; on
// exit v[k] holds value k of the 8 rows.
inline void transpose8(__m256 (&v)[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {  // per 128-bit half: v[i][j], v[i+1][j] interleaved
    t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {  // half h of u[i + j]: value 4h + j of rows i .. i + 3
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; ++j) {
    v[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
    v[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
  }
}

size_t x_bytes(int64_t, int64_t) { return 0; }
void prepare(int64_t, int64_t, const void*, size_t, void*) {}
size_t panel_bytes(int64_t n) { return static_cast<size_t>(n) * kPanelRows * sizeof(float); }

// buf[k * 16 + r] = row r's value k (0 for rows past nr).
void repack(int64_t n, const uint8_t* w, size_t ws, int nr, float* buf) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int half = 0; half < 2; ++half) {
      __m256 v[8];
      for (int r = 0; r < 8; ++r) {
        const int row = 8 * half + r;
        v[r] = row < nr ? _mm256_cvtph_ps(_mm_loadu_si128(
                              reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(w + row * ws) + i)))
                        : _mm256_setzero_ps();
      }
      transpose8(v);
      for (int k = 0; k < 8; ++k) _mm256_store_ps(buf + (i + k) * kPanelRows + 8 * half, v[k]);
    }
  }
  for (; i < n; ++i)
    for (int r = 0; r < kPanelRows; ++r)
      buf[i * kPanelRows + r] = r < nr ? _cvtsh_ss(reinterpret_cast<const uint16_t*>(w + r * ws)[i]) : 0.0f;
}

template <int NT>
void tokens(int64_t n, const float* buf, const float* x, int64_t xn, float* y, int64_t ldy, int nr) {
  __m256 acc[NT][2];
#pragma GCC unroll 6
  for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < n; ++k) {
    const __m256 w0 = _mm256_load_ps(buf + k * kPanelRows), w1 = _mm256_load_ps(buf + k * kPanelRows + 8);
#pragma GCC unroll 6
    for (int t = 0; t < NT; ++t) {
      const __m256 xb = _mm256_broadcast_ss(x + t * xn + k);
      acc[t][0] = _mm256_fmadd_ps(w0, xb, acc[t][0]);
      acc[t][1] = _mm256_fmadd_ps(w1, xb, acc[t][1]);
    }
  }
  // Masked stores for the panel's nr rows: a branch to a copy through memory here made GCC keep
  // every accumulator on the stack and store it on each column.
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
#pragma GCC unroll 6
  for (int t = 0; t < NT; ++t) {
    _mm256_maskstore_ps(y + t * ldy, m0, acc[t][0]);
    _mm256_maskstore_ps(y + t * ldy + 8, m1, acc[t][1]);
  }
}

void panel(int64_t n, const void* w, size_t ws, int nr, const void* vx, size_t xs, const void*, int64_t n_tokens,
           float* y, int64_t ldy, void* tmp) {
  auto* buf = static_cast<float*>(tmp);
  repack(n, static_cast<const uint8_t*>(w), ws, nr, buf);
  const auto* x = static_cast<const float*>(vx);
  const int64_t xn = static_cast<int64_t>(xs / sizeof(float));
  int64_t t = 0;
  for (; t + 6 <= n_tokens; t += 6) tokens<6>(n, buf, x + t * xn, xn, y + t * ldy, ldy, nr);
  for (; t + 3 <= n_tokens; t += 3) tokens<3>(n, buf, x + t * xn, xn, y + t * ldy, ldy, nr);
  for (; t < n_tokens; ++t) tokens<1>(n, buf, x + t * xn, xn, y + t * ldy, ldy, nr);
}

}  // namespace f16_panel

template <Kind K>
void install(KernelTable& t, TensorType type) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(type)];
  k.matmul_x_bytes = x_bytes;
  k.matmul_prepare = prepare<K>;
  k.matmul_panel_bytes = panel_bytes;
  k.matmul_panel = panel<K>;
}

}  // namespace

void install_avx2_matmul_panels(KernelTable& t) {
  install<Kind::kQ4_0>(t, TensorType::kQ4_0);
  install<Kind::kQ8_0>(t, TensorType::kQ8_0);
  WeightKernels& f16 = t.weights[static_cast<uint32_t>(TensorType::kF16)];
  f16.matmul_x_bytes = f16_panel::x_bytes;
  f16.matmul_prepare = f16_panel::prepare;
  f16.matmul_panel_bytes = f16_panel::panel_bytes;
  f16.matmul_panel = f16_panel::panel;
}

}  // namespace plumb::kernels
