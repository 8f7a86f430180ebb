// AVX-512 attention over one head's cached positions (see attention_avx2.cpp).  Masked loads
// take the last columns of any head size, so every row takes one path.
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

namespace plumb::kernels {

namespace {

using gguf::block_q8_0;

inline __mmask16 tail_mask(int64_t left) { return static_cast<__mmask16>((1u << left) - 1u); }

// Values i .. i + 15 of a cached row as floats, from an f32, f16 or q8_0 cache (a row of q8_0
// is a row of blocks, and i a multiple of 16, so the sixteen share one block's scale).
inline __m512 load16(const float* row, int64_t i) { return _mm512_loadu_ps(row + i); }
inline __m512 load16(const uint16_t* row, int64_t i) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + i)));
}
inline __m512 load16(const block_q8_0* row, int64_t i) {
  const block_q8_0& b = row[i / 32];
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + i % 32));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), _mm512_set1_ps(_cvtsh_ss(b.d)));
}
// The first columns of values i .. i + 15 (mask m), the rest zero.  q8_0 rows have whole blocks
// only, so they never take this path, but it is the same arithmetic.
inline __m512 load16(__mmask16 m, const float* row, int64_t i) { return _mm512_maskz_loadu_ps(m, row + i); }
inline __m512 load16(__mmask16 m, const uint16_t* row, int64_t i) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + i));
}
inline __m512 load16(__mmask16 m, const block_q8_0* row, int64_t i) {
  return _mm512_maskz_mov_ps(m, load16(row, i));
}

void dot_rows_f32(const float* q, const float* k, int64_t k_stride, int64_t n_rows, int64_t n, float scale,
                  float* out) {
  const int64_t full = n / 16 * 16;
  const __mmask16 m = tail_mask(n - full);
  int64_t r = 0;
  for (; r + 4 <= n_rows; r += 4) {
    const float* k0 = k + r * k_stride;
    const float* k1 = k0 + k_stride;
    const float* k2 = k1 + k_stride;
    const float* k3 = k2 + k_stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i < full; i += 16) {
      const __m512 qv = _mm512_loadu_ps(q + i);
      a0 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k0 + i), a0);
      a1 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k1 + i), a1);
      a2 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k2 + i), a2);
      a3 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k3 + i), a3);
    }
    if (m != 0) {
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + full);
      a0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k0 + full), a0);
      a1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k1 + full), a1);
      a2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k2 + full), a2);
      a3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k3 + full), a3);
    }
    out[r] = _mm512_reduce_add_ps(a0) * scale;
    out[r + 1] = _mm512_reduce_add_ps(a1) * scale;
    out[r + 2] = _mm512_reduce_add_ps(a2) * scale;
    out[r + 3] = _mm512_reduce_add_ps(a3) * scale;
  }
  for (; r < n_rows; ++r) {
    const float* kr = k + r * k_stride;
    __m512 a = _mm512_setzero_ps();
    for (int64_t i = 0; i < full; i += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_loadu_ps(kr + i), a);
    if (m != 0) a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + full), _mm512_maskz_loadu_ps(m, kr + full), a);
    out[r] = _mm512_reduce_add_ps(a) * scale;
  }
}

void weighted_sum_f32(const float* w, const float* v, int64_t v_stride, int64_t n_rows, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t r = 0; r < n_rows; ++r) {
      const __m512 wr = _mm512_set1_ps(w[r]);
      const float* vr = v + r * v_stride + i;
      a0 = _mm512_fmadd_ps(wr, _mm512_loadu_ps(vr), a0);
      a1 = _mm512_fmadd_ps(wr, _mm512_loadu_ps(vr + 16), a1);
      a2 = _mm512_fmadd_ps(wr, _mm512_loadu_ps(vr + 32), a2);
      a3 = _mm512_fmadd_ps(wr, _mm512_loadu_ps(vr + 48), a3);
    }
    _mm512_storeu_ps(out + i, a0);
    _mm512_storeu_ps(out + i + 16, a1);
    _mm512_storeu_ps(out + i + 32, a2);
    _mm512_storeu_ps(out + i + 48, a3);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(n - i);
    __m512 a = _mm512_setzero_ps();
    for (int64_t r = 0; r < n_rows; ++r)
      a = _mm512_fmadd_ps(_mm512_set1_ps(w[r]), _mm512_maskz_loadu_ps(m, v + r * v_stride + i), a);
    _mm512_mask_storeu_ps(out + i, m, a);
  }
}

// Grouped-query attention: up to four query heads take each cached row from one load of it, so
// a KV head's rows come from L2 once per group rather than once per query head (at a
// 1500-token context a KV head's keys and values are 768 KB, and reading them was what bounded
// the single-head kernels).
//
// Sixteen sums in one vector: lane j = the sum of a[j]'s lanes.  Halves, then quarters are
// paired across vectors (shuffles of 128-bit chunks), then the four sums left in each chunk are
// added within it: 46 operations where sixteen horizontal sums take ~140, and every a[j] is
// summed in the same order, whichever j it is.
inline __m512 sum16(__m512 (&a)[16]) {
  __m512 b[8], c[4];
  for (int j = 0; j < 8; ++j)  // chunks 0-1: a[2j]'s eight pair sums; chunks 2-3: a[2j + 1]'s
    b[j] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * j], a[2 * j + 1], 0x44),
                         _mm512_shuffle_f32x4(a[2 * j], a[2 * j + 1], 0xEE));
  for (int j = 0; j < 4; ++j)  // chunk m: the four sums of a[4j + m]
    c[j] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * j], b[2 * j + 1], 0x88),
                         _mm512_shuffle_f32x4(b[2 * j], b[2 * j + 1], 0xDD));
  // Within each chunk, four vectors at once: lane 4m + j ends with the sum of a[4j + m].
  const __m512 e0 = _mm512_add_ps(_mm512_unpacklo_ps(c[0], c[1]), _mm512_unpackhi_ps(c[0], c[1]));
  const __m512 e1 = _mm512_add_ps(_mm512_unpacklo_ps(c[2], c[3]), _mm512_unpackhi_ps(c[2], c[3]));
  const __m512d d0 = _mm512_castps_pd(e0), d1 = _mm512_castps_pd(e1);
  const __m512 f = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(d0, d1)), _mm512_castpd_ps(_mm512_unpackhi_pd(d0, d1)));
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  return _mm512_permutexvar_ps(order, f);
}

// Four queries against four rows at a time, sixteen accumulators summed together (sum16): at
// head size 64 a horizontal sum per score cost twice the score's own arithmetic.  Missing
// queries and rows of a partial block are computed from query / row 0 and not stored, so every
// score takes the same path.
template <typename T>
void dot_rows_multi(const float* q, int64_t q_stride, int nq, const T* k, int64_t k_stride, int64_t n_rows, int64_t n,
                    float scale, float* out, int64_t out_stride) {
  const int64_t full = n / 16 * 16;
  const __mmask16 m = tail_mask(n - full);
  const __m512 vscale = _mm512_set1_ps(scale);
  for (int j0 = 0; j0 < nq; j0 += 4) {
    const int mq = nq - j0 < 4 ? nq - j0 : 4;
    const float* qj[4];
    for (int j = 0; j < 4; ++j) qj[j] = q + (j0 + (j < mq ? j : 0)) * q_stride;
    for (int64_t r0 = 0; r0 < n_rows; r0 += 4) {
      const int64_t mr = n_rows - r0 < 4 ? n_rows - r0 : 4;
      const T* kr[4];
      for (int r = 0; r < 4; ++r) kr[r] = k + (r0 + (r < mr ? r : 0)) * k_stride;
      __m512 a[16];  // a[4j + r]: query j, row r
      for (int i = 0; i < 16; ++i) a[i] = _mm512_setzero_ps();
      for (int64_t i = 0; i < full; i += 16) {
        __m512 kv[4];
        for (int r = 0; r < 4; ++r) kv[r] = load16(kr[r], i);
        for (int j = 0; j < 4; ++j) {
          const __m512 qv = _mm512_loadu_ps(qj[j] + i);
          for (int r = 0; r < 4; ++r) a[4 * j + r] = _mm512_fmadd_ps(qv, kv[r], a[4 * j + r]);
        }
      }
      if (m != 0) {
        __m512 kv[4];
        for (int r = 0; r < 4; ++r) kv[r] = load16(m, kr[r], full);
        for (int j = 0; j < 4; ++j) {
          const __m512 qv = _mm512_maskz_loadu_ps(m, qj[j] + full);
          for (int r = 0; r < 4; ++r) a[4 * j + r] = _mm512_fmadd_ps(qv, kv[r], a[4 * j + r]);
        }
      }
      alignas(64) float lanes[16];
      _mm512_store_ps(lanes, _mm512_mul_ps(sum16(a), vscale));
      for (int j = 0; j < mq; ++j)
        for (int r = 0; r < mr; ++r) out[(j0 + j) * out_stride + r0 + r] = lanes[4 * j + r];
    }
  }
}

// Columns 64 at a time (16 at a time, masked, for the rest): each query's 4 accumulators stay in
// registers over all rows, and each row's values are loaded once for the group.  Rows are added
// in order, as in weighted_sum_f32.
template <int M, typename T>
void weighted_sum_group(const float* w, int64_t w_stride, const T* v, int64_t v_stride, int64_t n_rows, int64_t n,
                        float* out, int64_t out_stride) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512 a[M][4];
    for (int j = 0; j < M; ++j)
      for (int c = 0; c < 4; ++c) a[j][c] = _mm512_setzero_ps();
    for (int64_t r = 0; r < n_rows; ++r) {
      const T* vr = v + r * v_stride;
      const __m512 v0 = load16(vr, i), v1 = load16(vr, i + 16), v2 = load16(vr, i + 32), v3 = load16(vr, i + 48);
      for (int j = 0; j < M; ++j) {
        const __m512 wr = _mm512_set1_ps(w[j * w_stride + r]);
        a[j][0] = _mm512_fmadd_ps(wr, v0, a[j][0]);
        a[j][1] = _mm512_fmadd_ps(wr, v1, a[j][1]);
        a[j][2] = _mm512_fmadd_ps(wr, v2, a[j][2]);
        a[j][3] = _mm512_fmadd_ps(wr, v3, a[j][3]);
      }
    }
    for (int j = 0; j < M; ++j)
      for (int c = 0; c < 4; ++c) _mm512_storeu_ps(out + j * out_stride + i + 16 * c, a[j][c]);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(n - i);
    __m512 a[M];
    for (int j = 0; j < M; ++j) a[j] = _mm512_setzero_ps();
    for (int64_t r = 0; r < n_rows; ++r) {
      const __m512 vr = load16(m, v + r * v_stride, i);
      for (int j = 0; j < M; ++j) a[j] = _mm512_fmadd_ps(_mm512_set1_ps(w[j * w_stride + r]), vr, a[j]);
    }
    for (int j = 0; j < M; ++j) _mm512_mask_storeu_ps(out + j * out_stride + i, m, a[j]);
  }
}

template <typename T>
void weighted_sum_multi(const float* w, int64_t w_stride, int nq, const T* v, int64_t v_stride, int64_t n_rows,
                        int64_t n, float* out, int64_t out_stride) {
  for (int j = 0; j < nq; j += 4) {
    const float* wj = w + j * w_stride;
    float* oj = out + j * out_stride;
    switch (nq - j < 4 ? nq - j : 4) {
      case 1: weighted_sum_group<1, T>(wj, w_stride, v, v_stride, n_rows, n, oj, out_stride); break;
      case 2: weighted_sum_group<2, T>(wj, w_stride, v, v_stride, n_rows, n, oj, out_stride); break;
      case 3: weighted_sum_group<3, T>(wj, w_stride, v, v_stride, n_rows, n, oj, out_stride); break;
      default: weighted_sum_group<4, T>(wj, w_stride, v, v_stride, n_rows, n, oj, out_stride); break;
    }
  }
}

void dot_rows_multi_f32(const float* q, int64_t q_stride, int nq, const float* k, int64_t k_stride, int64_t n_rows,
                        int64_t n, float scale, float* out, int64_t out_stride) {
  dot_rows_multi(q, q_stride, nq, k, k_stride, n_rows, n, scale, out, out_stride);
}
void dot_rows_multi_f16(const float* q, int64_t q_stride, int nq, const uint16_t* k, int64_t k_stride, int64_t n_rows,
                        int64_t n, float scale, float* out, int64_t out_stride) {
  dot_rows_multi(q, q_stride, nq, k, k_stride, n_rows, n, scale, out, out_stride);
}
void weighted_sum_multi_f32(const float* w, int64_t w_stride, int nq, const float* v, int64_t v_stride,
                            int64_t n_rows, int64_t n, float* out, int64_t out_stride) {
  weighted_sum_multi(w, w_stride, nq, v, v_stride, n_rows, n, out, out_stride);
}
void weighted_sum_multi_f16(const float* w, int64_t w_stride, int nq, const uint16_t* v, int64_t v_stride,
                            int64_t n_rows, int64_t n, float* out, int64_t out_stride) {
  weighted_sum_multi(w, w_stride, nq, v, v_stride, n_rows, n, out, out_stride);
}

// q8_0: the templates' strides count blocks.
void dot_rows_multi_q8_0(const float* q, int64_t q_stride, int nq, const void* k, int64_t k_stride, int64_t n_rows,
                         int64_t n, float scale, float* out, int64_t out_stride) {
  dot_rows_multi(q, q_stride, nq, static_cast<const block_q8_0*>(k), k_stride / 32, n_rows, n, scale, out, out_stride);
}
void weighted_sum_multi_q8_0(const float* w, int64_t w_stride, int nq, const void* v, int64_t v_stride,
                             int64_t n_rows, int64_t n, float* out, int64_t out_stride) {
  weighted_sum_multi(w, w_stride, nq, static_cast<const block_q8_0*>(v), v_stride / 32, n_rows, n, out, out_stride);
}

}  // namespace

void install_avx512_attention(KernelTable& t) {
  t.dot_rows_f32 = dot_rows_f32;
  t.weighted_sum_f32 = weighted_sum_f32;
  t.dot_rows_multi_f32 = dot_rows_multi_f32;
  t.weighted_sum_multi_f32 = weighted_sum_multi_f32;
  t.dot_rows_multi_f16 = dot_rows_multi_f16;
  t.weighted_sum_multi_f16 = weighted_sum_multi_f16;
  t.dot_rows_multi_q8_0 = dot_rows_multi_q8_0;
  t.weighted_sum_multi_q8_0 = weighted_sum_multi_q8_0;
}

}  // namespace plumb::kernels
