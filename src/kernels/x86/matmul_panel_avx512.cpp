// AVX-512 (VNNI) prompt processing for q4_0, q8_0 and float (f16, bf16, f32) weights in panels of 16 rows.
//
// A panel's rows are repacked once into the calling thread's buffer as unsigned bytes u = w + c
// (q4_0: the nibble q, c = 8; q8_0: w + 128, c = 128), interleaved so that one 64-byte vector
// holds four consecutive elements of all 16 rows (lane r = row r).  Every token then costs, per
// block of 32 elements, eight VPDPBUSD against four broadcast activation bytes each (the
// activations stay in their q8_0 rows), started from -c * (sum of the block's activations), and
// one conversion, scale multiply and FMA for 16 rows at once: no horizontal reductions, no
// nibble unpacking in the inner loop.  Repacking costs about 1/40 of the panel's arithmetic at
// 512 tokens.  Each (row, token) result is the same sequence of operations wherever its panel
// and token tile fall, so results do not depend on the thread count.
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

static_assert(kPanelRows == 16, "a panel is one 16-lane vector of rows");

// Per block in the panel buffer: 8 vectors of weights (elements 4j..4j+3 of every row) and 16
// float row scales.
constexpr size_t kPanelBlockBytes = 8 * 64 + 16 * sizeof(float);

enum class Kind { kQ4_0, kQ8_0 };

template <Kind K>
constexpr int kOffset = K == Kind::kQ4_0 ? 8 : 128;

size_t x_bytes(int64_t n, int64_t n_tokens) { return static_cast<size_t>(n / 32) * static_cast<size_t>(n_tokens) * 8; }

size_t panel_bytes(int64_t n) { return static_cast<size_t>(n / 32) * kPanelBlockBytes; }

// Per token and block: {int32 -c * sum of the 32 activations, float activation scale}.
template <Kind K>
void prepare(int64_t n, int64_t n_tokens, const void* vxq, size_t xs, void* vxp) {
  const int64_t nb = n / 32;
  auto* out = static_cast<uint8_t*>(vxp);
  const __m256i ones = _mm256_set1_epi8(1);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const auto* xb = reinterpret_cast<const block_q8_0*>(static_cast<const uint8_t*>(vxq) + t * xs);
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[b].qs));
      const int32_t sum = avx2::hsum_i32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, q));
      const int32_t off = -kOffset<K> * sum;
      const float dx = _cvtsh_ss(xb[b].d);
      uint8_t* e = out + (t * nb + b) * 8;
      std::memcpy(e, &off, 4);
      std::memcpy(e + 4, &dx, 4);
    }
  }
}

// Writes row r's block b (32 unsigned bytes) as dwords j = 0..7 at buf[b][j][lane r].
inline void put_row_block(uint8_t* blk, int r, __m256i u) {
  alignas(32) uint32_t d[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(d), u);
  for (int j = 0; j < 8; ++j) std::memcpy(blk + j * 64 + r * 4, &d[j], 4);
}

template <Kind K>
void repack(int64_t nb, const uint8_t* w, size_t ws, int nr, uint8_t* buf) {
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* blk = buf + b * kPanelBlockBytes;
    auto* scales = reinterpret_cast<float*>(blk + 8 * 64);
    for (int r = 0; r < kPanelRows; ++r) {
      if (r >= nr) {
        put_row_block(blk, r, _mm256_setzero_si256());
        scales[r] = 0.0f;
        continue;
      }
      const uint8_t* row = w + r * ws;
      __m256i u;
      uint16_t h;
      if constexpr (K == Kind::kQ4_0) {
        const auto* q = reinterpret_cast<const block_q4_0*>(row) + b;
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q->qs));
        const __m128i m4 = _mm_set1_epi8(0x0F);
        u = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m4), _mm_and_si128(v, m4));
        h = q->d;
      } else {
        const auto* q = reinterpret_cast<const block_q8_0*>(row) + b;
        u = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q->qs)),
                             _mm256_set1_epi8(static_cast<char>(0x80)));
        h = q->d;
      }
      put_row_block(blk, r, u);
      scales[r] = _cvtsh_ss(h);
    }
  }
}

template <int NT>
void token_tile(int64_t nb, const uint8_t* buf, const uint8_t* xq, size_t xs, const uint8_t* xp, float* y,
                int64_t ldy, __mmask16 rows) {
  __m512 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = buf + b * kPanelBlockBytes;
    __m512i wv[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) wv[j] = _mm512_load_si512(blk + j * 64);
    const __m512 scales = _mm512_load_ps(blk + 8 * 64);
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const uint8_t* qs = xq + t * xs + b * sizeof(block_q8_0) + 2;
      const uint8_t* e = xp + (t * nb + b) * 8;
      int32_t off;
      float dx;
      std::memcpy(&off, e, 4);
      std::memcpy(&dx, e + 4, 4);
      __m512i s = _mm512_set1_epi32(off);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        int32_t x4;
        std::memcpy(&x4, qs + 4 * j, 4);
        s = _mm512_dpbusd_epi32(s, wv[j], _mm512_set1_epi32(x4));
      }
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(scales, _mm512_set1_ps(dx)), acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * ldy, rows, acc[t]);
}

template <Kind K>
void panel(int64_t n, const void* w, size_t ws, int nr, const void* vxq, size_t xs, const void* vxp, int64_t n_tokens,
           float* y, int64_t ldy, void* tmp) {
  const int64_t nb = n / 32;
  auto* buf = static_cast<uint8_t*>(tmp);
  repack<K>(nb, static_cast<const uint8_t*>(w), ws, nr, buf);
  const auto* xq = static_cast<const uint8_t*>(vxq);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const auto rows = static_cast<__mmask16>((1u << nr) - 1);
  int64_t t = 0;
  for (; t + 8 <= n_tokens; t += 8) token_tile<8>(nb, buf, xq + t * xs, xs, xp + t * nb * 8, y + t * ldy, ldy, rows);
  for (; t + 4 <= n_tokens; t += 4) token_tile<4>(nb, buf, xq + t * xs, xs, xp + t * nb * 8, y + t * ldy, ldy, rows);
  for (; t < n_tokens; ++t) token_tile<1>(nb, buf, xq + t * xs, xs, xp + t * nb * 8, y + t * ldy, ldy, rows);
}


// A 16 x 16 block of floats transposed in registers: on entry v[r] holds row r's 16 values; on
// exit v[k] holds value k of rows 0-15.  Pairs of rows are interleaved, then quads, then the
// 128-bit chunks of four quads are gathered.
inline void transpose16(__m512 (&v)[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {  // per chunk c: t[i] = v[i][4c], v[i+1][4c], v[i][4c+1], v[i+1][4c+1]
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // chunk c of v[i + j]: value 4c + j of rows i .. i + 3
    v[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    v[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    v[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    v[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; ++j) {  // value 4c + j of all rows: chunk c of v[j], v[4 + j], v[8 + j], v[12 + j]
    const __m512 ab_lo = _mm512_shuffle_f32x4(v[j], v[4 + j], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 ab_hi = _mm512_shuffle_f32x4(v[j], v[4 + j], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512 cd_lo = _mm512_shuffle_f32x4(v[8 + j], v[12 + j], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 cd_hi = _mm512_shuffle_f32x4(v[8 + j], v[12 + j], _MM_SHUFFLE(3, 2, 3, 2));
    t[j] = _mm512_shuffle_f32x4(ab_lo, cd_lo, _MM_SHUFFLE(2, 0, 2, 0));
    t[4 + j] = _mm512_shuffle_f32x4(ab_lo, cd_lo, _MM_SHUFFLE(3, 1, 3, 1));
    t[8 + j] = _mm512_shuffle_f32x4(ab_hi, cd_hi, _MM_SHUFFLE(2, 0, 2, 0));
    t[12 + j] = _mm512_shuffle_f32x4(ab_hi, cd_hi, _MM_SHUFFLE(3, 1, 3, 1));
  }
  for (int k = 0; k < 16; ++k) v[k] = t[k];
}

// Float weights (f32, f16, bf16) x f32 activations: the panel is converted once to f32 and
// transposed (16 rows per column, one vector), then each token costs one broadcast and one FMA
// per column for all 16 rows; 8 tokens at a time keep the FMA pipes busy past their latency.
template <int kKind>  // 0 f32, 1 f16, 2 bf16
struct FloatPanel {
  static size_t x_bytes(int64_t, int64_t) { return 0; }
  static void prepare(int64_t, int64_t, const void*, size_t, void*) {}
  static size_t panel_bytes(int64_t n) { return static_cast<size_t>(n) * kPanelRows * sizeof(float); }

  // Values i .. i + 15 (the first m of them; the rest zero) of row r as floats.
  static __m512 load_row(const uint8_t* w, size_t ws, int r, int64_t i, __mmask16 mask) {
    const uint8_t* src = w + r * ws;
    if constexpr (kKind == 0) {
      return _mm512_maskz_loadu_ps(mask, reinterpret_cast<const float*>(src) + i);
    } else if constexpr (kKind == 1) {
      return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, reinterpret_cast<const uint16_t*>(src) + i));
    } else {
      const __m256i h = _mm256_maskz_loadu_epi16(mask, reinterpret_cast<const uint16_t*>(src) + i);
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
  }

  // Sixteen columns at a time: the 16 rows' values are loaded as 16 vectors and transposed in
  // registers (64 shuffles), where storing them one float at a time took a store per value and
  // cost as much as a quarter of the panel's arithmetic at 64 tokens.
  static void repack(int64_t n, const uint8_t* w, size_t ws, int nr, float* buf) {
    for (int64_t i = 0; i < n; i += 16) {
      const int64_t m = n - i < 16 ? n - i : 16;
      const auto mask = static_cast<__mmask16>((1u << m) - 1);
      __m512 v[16];
      for (int r = 0; r < kPanelRows; ++r) v[r] = r < nr ? load_row(w, ws, r, i, mask) : _mm512_setzero_ps();
      transpose16(v);
      for (int64_t k = 0; k < m; ++k) _mm512_store_ps(buf + (i + k) * kPanelRows, v[k]);
    }
  }

  template <int NT>
  static void tokens(int64_t n, const float* buf, const float* x, int64_t xn, float* y, int64_t ldy, __mmask16 rows) {
    __m512 acc[NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t k = 0; k < n; ++k) {
      const __m512 wv = _mm512_load_ps(buf + k * kPanelRows);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) acc[t] = _mm512_fmadd_ps(wv, _mm512_set1_ps(x[t * xn + k]), acc[t]);
    }
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * ldy, rows, acc[t]);
  }

  static void panel(int64_t n, const void* w, size_t ws, int nr, const void* vx, size_t xs, const void*,
                    int64_t n_tokens, float* y, int64_t ldy, void* tmp) {
    auto* buf = static_cast<float*>(tmp);
    repack(n, static_cast<const uint8_t*>(w), ws, nr, buf);
    const auto* x = static_cast<const float*>(vx);
    const int64_t xn = static_cast<int64_t>(xs / sizeof(float));
    const auto rows = static_cast<__mmask16>((1u << nr) - 1);
    int64_t t = 0;
    for (; t + 8 <= n_tokens; t += 8) tokens<8>(n, buf, x + t * xn, xn, y + t * ldy, ldy, rows);
    for (; t + 4 <= n_tokens; t += 4) tokens<4>(n, buf, x + t * xn, xn, y + t * ldy, ldy, rows);
    for (; t < n_tokens; ++t) tokens<1>(n, buf, x + t * xn, xn, y + t * ldy, ldy, rows);
  }

  static void install(KernelTable& table, TensorType type) {
    WeightKernels& k = table.weights[static_cast<uint32_t>(type)];
    k.matmul_x_bytes = x_bytes;
    k.matmul_prepare = prepare;
    k.matmul_panel_bytes = panel_bytes;
    k.matmul_panel = panel;
  }
};

template <Kind K>
void install(KernelTable& t, TensorType type) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(type)];
  k.matmul_x_bytes = x_bytes;
  k.matmul_prepare = prepare<K>;
  k.matmul_panel_bytes = panel_bytes;
  k.matmul_panel = panel<K>;
}

}  // namespace

void install_avx512_matmul_panels(KernelTable& t) {
  install<Kind::kQ4_0>(t, TensorType::kQ4_0);
  install<Kind::kQ8_0>(t, TensorType::kQ8_0);
  FloatPanel<1>::install(t, TensorType::kF16);
  // bf16 prompts went through the gemm tile until stop 19: the panel took the 1B bf16 file's
  // pp512 from 156-158 to 179-180 tok/s (the panel runs at ~94% of the f32 FMA peak;
  // llama.cpp's 211-217 come from VDPBF16PS on activations rounded to bf16, which plumb keeps
  // in f32).  f32 weights keep the tile: its 16 partial sums per row are what the f32 models
  // of the tests are checked against at 2e-5 (the panel sums each row in one chain).
  FloatPanel<2>::install(t, TensorType::kBF16);
}

}  // namespace plumb::kernels
