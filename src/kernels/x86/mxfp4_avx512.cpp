// AVX-512 (VNNI) kernels for MXFP4 weights (gpt-oss's experts) against Q8_0 activations:
// vec_dot, a decode path (matvec_rows) and prompt panels (matmul_panel).  (With AVX512_VBMI, the
// decode path is replaced by matvec_mxfp4_avx512vbmi.cpp.)
//
// Nibbles are looked up with VPSHUFB as table values + 12, unsigned bytes for VPDPBUSD (u8 x
// s8), whose accumulator starts from -12 * (the activations it meets), precomputed from the
// activations alone (mxfp4_unpack.h).  A block's scale is dx * 2^(e - 128), one float product
// as ggml forms it (VSCALEFPS rounds dx * 2^(e - 128) once, as the product with the exact power
// of two does).
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
#include "kernels/x86/mxfp4_unpack.h"
#include "kernels/x86/prefetch.h"
#include "kernels/x86/simd_math_avx2.h"

namespace plumb::kernels {

namespace {

using gguf::block_mxfp4;
using gguf::block_q8_0;

// The biased table in every 128-bit lane.
inline __m512i biased_table512() { return _mm512_broadcast_i32x4(_mm256_castsi256_si128(mxfp4_biased_table())); }

// dx * 2^(e - 128) for 8 blocks: what dx * gguf::e8m0_to_fp32_half(e) gives, bit for bit.
inline __m256 block_scales8(__m256 dx, __m256i e) {
  return _mm256_scalef_ps(dx, _mm256_cvtepi32_ps(_mm256_sub_epi32(e, _mm256_set1_epi32(128))));
}

// One row against one token, two blocks b0, b1 per step in 128-bit lanes [b0 low nibbles, b1
// low, b0 high, b1 high] (cheap to unpack; the activations are permuted to that order).  An odd
// last block is paired with itself and its second copy weighted 0.
float vec_dot(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_mxfp4*>(vw);
  const auto* x = static_cast<const block_q8_0*>(vx);
  const int64_t nb = n / 32;
  const __m512i table = biased_table512();
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i bias = _mm512_set1_epi8(kMxfp4Bias);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b += 2) {
    const int64_t b1 = b + 1 < nb ? b + 1 : b;
    const __m256i packed = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].qs))),
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b1].qs)), 1);
    const __m512i nib =
        _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(packed), _mm256_srli_epi16(packed, 4), 1), m4);
    const __m512i xe =
        _mm512_inserti64x4(_mm512_castsi256_si512(avx2::load_i8x32(x[b].qs)), avx2::load_i8x32(x[b1].qs), 1);
    const __m512i xq = _mm512_shuffle_i64x2(xe, xe, _MM_SHUFFLE(3, 1, 2, 0));  // [x0 lo, x1 lo, x0 hi, x1 hi]
    const __m512i start =
        _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, xq));
    const __m512i p = _mm512_dpbusd_epi32(start, _mm512_shuffle_epi8(table, nib), xq);
    const float s0 = _cvtsh_ss(x[b].d) * mxfp4_scale(w[b].e);
    const float s1 = b1 != b ? _cvtsh_ss(x[b1].d) * mxfp4_scale(w[b1].e) : 0.0f;
    const __m256 h = _mm256_insertf128_ps(_mm256_set1_ps(s0), _mm_set1_ps(s1), 1);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_insertf32x8(_mm512_castps256_ps512(h), h, 1), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

// Decoding (matvec_rows): what does not depend on the weights is done once per call
// (matvec_prepare), and each thread reads its rows one after another, as one linear stream,
// asking for the bytes kStreamPrefetchBytes ahead (as the q4_0 kernels of matvec_avx512.cpp).
// A group of 8 blocks (136 bytes) is two vectors of four blocks' packed bytes, one block per
// 128-bit lane (four 16-byte loads each: 17-byte blocks do not fall on lanes); per vector two
// lookups and two VPDPBUSD (low nibbles, then high ones) leave each block's sums in its lane,
// and one conversion, scale permute and FMA finish the four blocks.  Prepared activations, per
// group (zeros past the last block), 448 bytes:
//   lo[h], hi[h]  2 x 2 x 64 bytes: lane b of half h has elements 0-15 (lo) and 16-31 (hi) of
//                 block 4h + b, the partners of its low and high nibbles;
//   off[h]        2 x 16 int32: -12 * (sum of the 8 activations each int32 lane meets);
//   dx            8 floats (then 32 bytes of padding).
constexpr size_t kPreparedGroupBytes = 448;
constexpr int kBlockOrder[8] = {0, 1, 2, 3, 4, 5, 6, 7};

struct Layout {
  int64_t nb, n_groups;
  explicit Layout(int64_t n) : nb(n / 32), n_groups((n / 32 + 7) / 8) {}
};

size_t matvec_x_bytes(int64_t n) { return static_cast<size_t>(Layout(n).n_groups) * kPreparedGroupBytes; }

void matvec_prepare(int64_t n, const void* vxq, void* vxp) {
  const Layout L(n);
  const auto* xq = static_cast<const block_q8_0*>(vxq);
  auto* out = static_cast<uint8_t*>(vxp);
  const __m512i bias = _mm512_set1_epi8(kMxfp4Bias);
  for (int64_t g = 0; g < L.n_groups; ++g) {
    uint8_t* x = out + g * kPreparedGroupBytes;
    auto* dx = reinterpret_cast<float*>(x + 384);
    std::memset(x, 0, kPreparedGroupBytes);
    for (int b = 0; b < 8; ++b) {
      const int64_t blk = 8 * g + b;
      if (blk >= L.nb) break;
      uint8_t* half = x + 128 * (b / 4);
      std::memcpy(half + 16 * (b % 4), xq[blk].qs, 16);
      std::memcpy(half + 64 + 16 * (b % 4), xq[blk].qs + 16, 16);
      dx[b] = _cvtsh_ss(xq[blk].d);
    }
    for (int h = 0; h < 2; ++h) {
      const __m512i lo = _mm512_load_si512(x + 128 * h), hi = _mm512_load_si512(x + 128 * h + 64);
      const __m512i sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, lo), bias, hi);
      _mm512_store_si512(x + 256 + 64 * h, _mm512_sub_epi32(_mm512_setzero_si512(), sum));
    }
  }
}

// The 16 packed bytes of blocks 0-3 from b4 (68 bytes), one block per 128-bit lane.
inline __m512i packed4(const uint8_t* b4) {
  const auto at = [&](int b) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(b4 + b * kMxfp4BlockBytes + 1));
  };
  const __m512i v = _mm512_inserti32x4(_mm512_castsi128_si512(at(0)), at(1), 1);
  return _mm512_inserti32x4(_mm512_inserti32x4(v, at(2), 2), at(3), 3);
}

struct Constants {
  __m512i table, m4;
  __m512i lanes[2];  // scale index of each lane in half h: block 4h + lane / 4
  Constants()
      : table(biased_table512()),
        m4(_mm512_set1_epi8(0x0F)),
        lanes{_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
              _mm512_set_epi32(7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4)} {}
};

// Blocks 4h .. 4h + 3 of a group (the group at gp, its prepared activations at xg, its 8 block
// scales in the low half of d) added to acc.
inline __m512 half_group(const Constants& k, const uint8_t* gp, const uint8_t* xg, int h, __m512 d, __m512 acc) {
  const __m512i v = packed4(gp + 4 * h * kMxfp4BlockBytes);
  const __m512i lo = _mm512_shuffle_epi8(k.table, _mm512_and_si512(v, k.m4));
  const __m512i hi = _mm512_shuffle_epi8(k.table, _mm512_and_si512(_mm512_srli_epi16(v, 4), k.m4));
  __m512i s = _mm512_load_si512(xg + 256 + 64 * h);
  s = _mm512_dpbusd_epi32(s, lo, _mm512_load_si512(xg + 128 * h));
  s = _mm512_dpbusd_epi32(s, hi, _mm512_load_si512(xg + 128 * h + 64));
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(k.lanes[h], d), acc);
}

// One group of 8 blocks of one row (136 bytes at gp) against its prepared activations xg: the
// two halves go to two accumulators, so that their FMAs do not wait on each other.
inline void group_row(const Constants& k, const uint8_t* gp, const uint8_t* xg, __m512& acc0, __m512& acc1) {
  const __m256 dx = _mm256_load_ps(reinterpret_cast<const float*>(xg + 384));
  const __m256 d = block_scales8(dx, mxfp4_group_exponents(gp, kBlockOrder));
  acc0 = half_group(k, gp, xg, 0, _mm512_castps256_ps512(d), acc0);
  acc1 = half_group(k, gp, xg, 1, _mm512_castps256_ps512(d), acc1);
}

float row_dot(const Layout& L, const Constants& k, const uint8_t* row, const uint8_t* xp, const StreamAhead& ahead) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  const int64_t full = L.nb / 8;
  for (int64_t g = 0; g < full; ++g) {
    const uint8_t* gp = row + g * kMxfp4GroupBytes;
    prefetch_stream(ahead(gp), kMxfp4GroupBytes);
    group_row(k, gp, xp + g * kPreparedGroupBytes, acc0, acc1);
  }
  if (full < L.n_groups) {
    // The last 1-7 blocks, copied into a zeroed group (zero activations and dx past nb).
    alignas(64) uint8_t tail[kMxfp4GroupBytes] = {};
    std::memcpy(tail, row + full * kMxfp4GroupBytes, static_cast<size_t>(L.nb - 8 * full) * kMxfp4BlockBytes);
    group_row(k, tail, xp + full * kPreparedGroupBytes, acc0, acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

void matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  const Layout L(n);
  const Constants k;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const StreamAhead ahead(w, ws, nr, static_cast<size_t>(L.nb) * kMxfp4BlockBytes, kMxfp4GroupBytes);
  for (int r = 0; r < nr; ++r) y[r] = row_dot(L, k, w + r * ws, xp, ahead);
}

// Prompt processing in panels of 16 rows (matmul_panel), as the panels of matmul_panel_avx512.cpp:
// a panel's rows are repacked once into the calling thread's buffer as biased values, one
// 64-byte vector per four consecutive elements of all 16 rows (lane r = row r), with the 16
// rows' 2^(e - 128) per block.  Every token then costs, per block, eight VPDPBUSD against four
// broadcast activation bytes each (the activations stay in their q8_0 rows), started from -12 *
// sum(a), then one conversion, scale multiply and FMA for the 16 rows.  Each (row, token)
// result is the same sequence of operations wherever its panel and tokens fall, so results do
// not depend on the thread count.
static_assert(kPanelRows == 16, "a panel is one 16-lane vector of rows");
constexpr size_t kPanelBlockBytes = 8 * 64 + 16 * sizeof(float);
// Per token and block: int32 -12 * sum(a), float dx.
constexpr size_t kPanelXBytes = 8;

size_t panel_x_bytes(int64_t n, int64_t n_tokens) {
  return static_cast<size_t>(n / 32) * static_cast<size_t>(n_tokens) * kPanelXBytes;
}

size_t panel_bytes(int64_t n) { return static_cast<size_t>(n / 32) * kPanelBlockBytes; }

void panel_prepare(int64_t n, int64_t n_tokens, const void* vxq, size_t xs, void* vxp) {
  const int64_t nb = n / 32;
  auto* out = static_cast<uint8_t*>(vxp);
  const __m256i bias = _mm256_set1_epi8(kMxfp4Bias);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const auto* xb = reinterpret_cast<const block_q8_0*>(static_cast<const uint8_t*>(vxq) + t * xs);
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i q = avx2::load_i8x32(xb[b].qs);
      const int32_t start = -avx2::hsum_i32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), bias, q));
      const float dx = _cvtsh_ss(xb[b].d);
      uint8_t* e = out + (t * nb + b) * kPanelXBytes;
      std::memcpy(e, &start, 4);
      std::memcpy(e + 4, &dx, 4);
    }
  }
}

void panel_repack(int64_t nb, const uint8_t* w, size_t ws, int nr, uint8_t* buf) {
  const __m256i table = mxfp4_biased_table();
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* blk = buf + b * kPanelBlockBytes;
    auto* d = reinterpret_cast<float*>(blk + 8 * 64);
    for (int r = 0; r < kPanelRows; ++r) {
      alignas(32) uint32_t u4[8] = {};  // dword j: elements 4j..4j+3
      d[r] = 0.0f;
      if (r < nr) {
        const uint8_t* src = w + r * ws + b * kMxfp4BlockBytes;
        _mm256_store_si256(reinterpret_cast<__m256i*>(u4), _mm256_shuffle_epi8(table, mxfp4_nibbles(src + 1)));
        d[r] = mxfp4_scale(src[0]);
      }
      for (int j = 0; j < 8; ++j) std::memcpy(blk + j * 64 + r * 4, &u4[j], 4);
    }
  }
}

template <int NT>
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
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * ldy, rows, acc[t]);
}

void panel(int64_t n, const void* w, size_t ws, int nr, const void* vxq, size_t xs, const void* vxp, int64_t n_tokens,
           float* y, int64_t ldy, void* tmp) {
  const int64_t nb = n / 32;
  auto* buf = static_cast<uint8_t*>(tmp);
  panel_repack(nb, static_cast<const uint8_t*>(w), ws, nr, buf);
  const auto* xq = static_cast<const uint8_t*>(vxq);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const auto rows = static_cast<__mmask16>((1u << nr) - 1);
  const size_t xp_token = static_cast<size_t>(nb) * kPanelXBytes;
  int64_t t = 0;
  for (; t + 8 <= n_tokens; t += 8)
    panel_tokens<8>(nb, buf, xq + t * xs, xs, xp + t * xp_token, y + t * ldy, ldy, rows);
  for (; t + 4 <= n_tokens; t += 4)
    panel_tokens<4>(nb, buf, xq + t * xs, xs, xp + t * xp_token, y + t * ldy, ldy, rows);
  for (; t < n_tokens; ++t) panel_tokens<1>(nb, buf, xq + t * xs, xs, xp + t * xp_token, y + t * ldy, ldy, rows);
}

}  // namespace

void install_avx512_mxfp4(KernelTable& t, bool use_vbmi) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(TensorType::kMXFP4)];
  // The activations are Q8_0, quantized by what this level already uses for q8_0 weights.
  k.quantize_x = t.weights[static_cast<uint32_t>(TensorType::kQ8_0)].quantize_x;
  k.vec_dot = vec_dot;
  k.matvec_x_bytes = matvec_x_bytes;
  k.matvec_prepare = matvec_prepare;
  k.matvec_rows = matvec_rows;
  k.matmul_x_bytes = panel_x_bytes;
  k.matmul_prepare = panel_prepare;
  k.matmul_panel_bytes = panel_bytes;
  k.matmul_panel = panel;
  if (use_vbmi) install_avx512vbmi_mxfp4_matvec(t);
}

}  // namespace plumb::kernels
