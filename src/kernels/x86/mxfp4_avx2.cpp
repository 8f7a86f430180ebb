// AVX2 kernels for MXFP4 weights (gpt-oss's experts) against Q8_0 activations: vec_dot, a
// decode path (matvec_rows) and prompt panels (matmul_panel).
//
// A block's nibbles are looked up with one VPSHUFB (the table is 16 bytes), as table values + 12
// in the decode and panel kernels, so that VPMADDUBSW takes them unsigned and -12 * sum(a) comes
// from the activations alone (mxfp4_unpack.h).  A block's scale is dx * 2^(e - 128), one float
// product as ggml forms it.
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

// One row against one token (matvec and matmul use the prepared paths below).  The signed
// values meet the activations through VPMADDUBSW with |value| unsigned and the value's sign
// moved onto the activations (pairs stay within 2 * 12 * 128).
float vec_dot(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_mxfp4*>(vw);
  const auto* x = static_cast<const block_q8_0*>(vx);
  const __m256i table = mxfp4_signed_table();
  const __m256i ones = _mm256_set1_epi16(1);
  auto block = [&](int64_t b, __m256 acc) {
    const __m256i q = _mm256_shuffle_epi8(table, mxfp4_nibbles(w[b].qs));
    const __m256i xq = avx2::load_i8x32(x[b].qs);
    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(xq, q)), ones);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(_cvtsh_ss(x[b].d) * mxfp4_scale(w[b].e)), acc);
  };
  const int64_t nb = n / 32;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    acc0 = block(b, acc0);
    acc1 = block(b + 1, acc1);
  }
  if (b < nb) acc0 = block(b, acc0);
  return avx2::hsum(_mm256_add_ps(acc0, acc1));
}

// Decoding (matvec_rows): what does not depend on the weights is done once per call
// (matvec_prepare), and each thread reads its rows one after another, as one linear stream,
// asking for the bytes kStreamPrefetchBytes ahead (as the q4_0 kernel of matvec_avx2.cpp).
// A group of 8 blocks (136 bytes) goes as four pairs of blocks 2k, 2k + 1: one vector holds the
// pair's packed bytes, block 2k in the low half and 2k + 1 in the high one (two overlapping
// 32-byte loads, one byte apart, and a dword blend: no shuffle), so that one mask gives both
// blocks' low nibbles, one shift and mask their high ones, and their VPMADDUBSW pair sums add
// up in one vector.  The four pair vectors of a group are then reduced to one vector of the 8
// block totals in lane order [0 2 4 6 | 1 3 5 7] (two rounds of VPHADDW, which stay below 2^15:
// 8 products of at most 24 * 128; VPMADDWD; VPHADDD), so the -12 * sum(a) term, the
// conversion and the scale FMA happen once per group, with the prepared terms and the
// exponents in that lane order too.  Prepared activations, blocks rounded up to groups of 8
// (zeros past nb), per group 320 bytes: per pair 64 bytes, [elements 0-15 of block 2k, 0-15 of
// 2k + 1] and [16-31 of 2k, 16-31 of 2k + 1], the partners of the low and high nibbles; then 8
// int32 -12 * (sum of a block's activations) and 8 float dx, in lane order.
constexpr size_t kPreparedGroupBytes = 320;
// Block of the group in each lane of the group's totals.
constexpr int kLaneBlock[8] = {0, 2, 4, 6, 1, 3, 5, 7};

struct Layout {
  int64_t nb, n_groups;
  explicit Layout(int64_t n) : nb(n / 32), n_groups((n / 32 + 7) / 8) {}
};

size_t matvec_x_bytes(int64_t n) { return static_cast<size_t>(Layout(n).n_groups) * kPreparedGroupBytes; }

void matvec_prepare(int64_t n, const void* vxq, void* vxp) {
  const Layout L(n);
  const auto* xq = static_cast<const block_q8_0*>(vxq);
  auto* out = static_cast<uint8_t*>(vxp);
  for (int64_t g = 0; g < L.n_groups; ++g) {
    uint8_t* x = out + g * kPreparedGroupBytes;
    auto* off = reinterpret_cast<int32_t*>(x + 256);
    auto* dx = reinterpret_cast<float*>(x + 288);
    std::memset(x, 0, kPreparedGroupBytes);
    for (int b = 0; b < 8 && 8 * g + b < L.nb; ++b) {
      const block_q8_0& blk = xq[8 * g + b];
      uint8_t* pair = x + 64 * (b / 2) + 16 * (b % 2);
      std::memcpy(pair, blk.qs, 16);
      std::memcpy(pair + 32, blk.qs + 16, 16);
    }
    for (int lane = 0; lane < 8; ++lane) {
      const int64_t b = 8 * g + kLaneBlock[lane];
      if (b >= L.nb) continue;
      int32_t sum = 0;
      for (int i = 0; i < 32; ++i) sum += xq[b].qs[i];
      off[lane] = -kMxfp4Bias * sum;
      dx[lane] = _cvtsh_ss(xq[b].d);
    }
  }
}

// One group of 8 blocks of one row (136 bytes at g) against its prepared activations x.
inline __m256 group_row(__m256i table, const uint8_t* g, const uint8_t* x, __m256 acc) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256i q[4];  // per pair: int16 sums of 4 products, block 2k in the low half
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    const uint8_t* b0 = g + 2 * k * kMxfp4BlockBytes + 1;  // block 2k's packed bytes
    const __m256i v = _mm256_blend_epi32(avx2::load_i8x32(b0), avx2::load_i8x32(b0 + 1), 0xF0);
    const __m256i lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, m4));
    const __m256i hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
    const auto* xk = reinterpret_cast<const __m256i*>(x + 64 * k);
    q[k] = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_load_si256(xk)),
                            _mm256_maddubs_epi16(hi, _mm256_load_si256(xk + 1)));
  }
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i h01 = _mm256_madd_epi16(_mm256_hadd_epi16(q[0], q[1]), ones);  // [0 0 2 2 | 1 1 3 3]
  const __m256i h23 = _mm256_madd_epi16(_mm256_hadd_epi16(q[2], q[3]), ones);  // [4 4 6 6 | 5 5 7 7]
  const __m256i total = _mm256_add_epi32(_mm256_hadd_epi32(h01, h23),
                                         _mm256_load_si256(reinterpret_cast<const __m256i*>(x + 256)));
  const __m256 d = _mm256_mul_ps(_mm256_load_ps(reinterpret_cast<const float*>(x + 288)),
                                 mxfp4_scales8(mxfp4_group_exponents(g, kLaneBlock)));
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), d, acc);
}

float row_dot(const Layout& L, __m256i table, const uint8_t* row, const uint8_t* xp, const StreamAhead& ahead) {
  __m256 acc = _mm256_setzero_ps();
  const int64_t full = L.nb / 8;
  for (int64_t g = 0; g < full; ++g) {
    const uint8_t* gp = row + g * kMxfp4GroupBytes;
    prefetch_stream(ahead(gp), kMxfp4GroupBytes);
    acc = group_row(table, gp, xp + g * kPreparedGroupBytes, acc);
  }
  if (full < L.n_groups) {
    // The last 1-7 blocks, copied into a zeroed group (zero activations and dx past nb).
    alignas(32) uint8_t tail[kMxfp4GroupBytes] = {};
    std::memcpy(tail, row + full * kMxfp4GroupBytes, static_cast<size_t>(L.nb - 8 * full) * kMxfp4BlockBytes);
    acc = group_row(table, tail, xp + full * kPreparedGroupBytes, acc);
  }
  return avx2::hsum(acc);
}

void matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  const Layout L(n);
  const __m256i table = mxfp4_biased_table();
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const StreamAhead ahead(w, ws, nr, static_cast<size_t>(L.nb) * kMxfp4BlockBytes, kMxfp4GroupBytes);
  for (int r = 0; r < nr; ++r) y[r] = row_dot(L, table, w + r * ws, xp, ahead);
}

// Prompt processing in panels of 16 rows (matmul_panel), as two halves of 8 rows, as the q5_0
// panels of legacy_quants_avx2.cpp.  A half is repacked once into the calling thread's buffer:
// per block 8 vectors, vector j = the biased values of elements 4j..4j+3 of the 8 rows (dword
// lane r = row r), then the 8 rows' 2^(e - 128).  Every token then meets each weight vector with
// one broadcast of its 4 activation bytes in VPMADDUBSW; the int16 pair sums of vectors 0-3 and
// 4-7 are added up apart (each at most 4 * 2 * 24 * 128 = 24576) and widened, started from
// -12 * sum(a); then one conversion, scale multiply and FMA per block covers 8 rows.  Each (row,
// token) result is the same sequence of operations wherever its panel and tokens fall, so
// results do not depend on the thread count.
static_assert(kPanelRows == 16, "a panel is two 8-lane halves of rows");
constexpr int kHalfRows = 8;
constexpr size_t kHalfBlockBytes = 8 * 32 + kHalfRows * sizeof(float);
// Per token and block: int32 -12 * sum(a), float dx.
constexpr size_t kPanelXBytes = 8;

size_t panel_x_bytes(int64_t n, int64_t n_tokens) {
  return static_cast<size_t>(n / 32) * static_cast<size_t>(n_tokens) * kPanelXBytes;
}

size_t panel_bytes(int64_t n) { return 2 * static_cast<size_t>(n / 32) * kHalfBlockBytes; }

void panel_prepare(int64_t n, int64_t n_tokens, const void* vxq, size_t xs, void* vxp) {
  const int64_t nb = n / 32;
  auto* out = static_cast<uint8_t*>(vxp);
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const auto* xb = reinterpret_cast<const block_q8_0*>(static_cast<const uint8_t*>(vxq) + t * xs);
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i q = avx2::load_i8x32(xb[b].qs);
      const int32_t start = -kMxfp4Bias * avx2::hsum_i32(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16));
      const float dx = _cvtsh_ss(xb[b].d);
      uint8_t* e = out + (t * nb + b) * kPanelXBytes;
      std::memcpy(e, &start, 4);
      std::memcpy(e + 4, &dx, 4);
    }
  }
}

// The half panel starting at row `w` with `rows` (1..8) real rows; the rest are zeros with zero
// scales, so they compute to 0 and are never stored.
void panel_repack_half(int64_t nb, const uint8_t* w, size_t ws, int rows, uint8_t* hb) {
  const __m256i table = mxfp4_biased_table();
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* blk = hb + b * kHalfBlockBytes;
    auto* d = reinterpret_cast<float*>(blk + 8 * 32);
    for (int r = 0; r < kHalfRows; ++r) {
      alignas(32) uint32_t u4[8] = {};  // dword j: elements 4j..4j+3
      d[r] = 0.0f;
      if (r < rows) {
        const uint8_t* src = w + r * ws + b * kMxfp4BlockBytes;
        _mm256_store_si256(reinterpret_cast<__m256i*>(u4), _mm256_shuffle_epi8(table, mxfp4_nibbles(src + 1)));
        d[r] = mxfp4_scale(src[0]);
      }
      for (int j = 0; j < 8; ++j) std::memcpy(blk + j * 32 + r * 4, &u4[j], 4);
    }
  }
}

inline __m256i broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

template <int NT>
void panel_tokens(int64_t nb, const uint8_t* hb, const uint8_t* xq, size_t xs, const uint8_t* xp, float* y,
                  int64_t ldy, int rows) {
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = hb + b * kHalfBlockBytes;
    const uint8_t* qs = xq + b * sizeof(block_q8_0) + 2;
    __m256i s[NT], s2[NT];  // int16 pair sums of vectors 0-3 and 4-7
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const __m256i wv = _mm256_load_si256(reinterpret_cast<const __m256i*>(blk + 32 * j));
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const __m256i p = _mm256_maddubs_epi16(wv, broadcast4(qs + t * xs + 4 * j));
        if (j < 4) {
          s[t] = j == 0 ? p : _mm256_add_epi16(s[t], p);
        } else {
          s2[t] = j == 4 ? p : _mm256_add_epi16(s2[t], p);
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
      const __m256i s4 = _mm256_add_epi32(_mm256_madd_epi16(s2[t], ones16), _mm256_set1_epi32(start));
      const __m256i s32 = _mm256_add_epi32(_mm256_madd_epi16(s[t], ones16), s4);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), _mm256_mul_ps(d, _mm256_set1_ps(dx)), acc[t]);
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

void panel(int64_t n, const void* vw, size_t ws, int nr, const void* vxq, size_t xs, const void* vxp, int64_t n_tokens,
           float* y, int64_t ldy, void* tmp) {
  // Tokens per pass: two int16 sums and one float sum per token must stay in the 16 registers.
  constexpr int NT = 4;
  const int64_t nb = n / 32;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xq = static_cast<const uint8_t*>(vxq);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  auto* buf = static_cast<uint8_t*>(tmp);
  const size_t xp_token = static_cast<size_t>(nb) * kPanelXBytes;
  for (int h = 0; h * kHalfRows < nr; ++h) {
    const int rows = nr - h * kHalfRows < kHalfRows ? nr - h * kHalfRows : kHalfRows;
    uint8_t* hb = buf + h * nb * kHalfBlockBytes;
    panel_repack_half(nb, w + h * kHalfRows * ws, ws, rows, hb);
    float* yh = y + h * kHalfRows;
    int64_t t = 0;
    for (; t + NT <= n_tokens; t += NT)
      panel_tokens<NT>(nb, hb, xq + t * xs, xs, xp + t * xp_token, yh + t * ldy, ldy, rows);
    for (; t + 2 <= n_tokens; t += 2)
      panel_tokens<2>(nb, hb, xq + t * xs, xs, xp + t * xp_token, yh + t * ldy, ldy, rows);
    for (; t < n_tokens; ++t) panel_tokens<1>(nb, hb, xq + t * xs, xs, xp + t * xp_token, yh + t * ldy, ldy, rows);
  }
}

}  // namespace

void install_avx2_mxfp4(KernelTable& t) {
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
}

}  // namespace plumb::kernels
