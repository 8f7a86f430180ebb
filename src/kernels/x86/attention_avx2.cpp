// AVX2 attention over one head's cached positions: scores (dot_rows_f32) and the weighted sum
// of values (weighted_sum_f32).  Called once per head, where the forward pass used to call
// dot_f32 and axpy_f32 once per position: q (or the output) stays in registers across rows,
// four rows share each load of q, and the output is stored once instead of once per position.
//
// Only intrinsics and file-local functions here (see dispatch.h for why).
#include <immintrin.h>

#include "gguf/quantize.h"
#include "kernels/dispatch.h"

namespace plumb::kernels {

namespace {

using gguf::block_q8_0;

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Values i .. i + 7 of a cached row as floats, from an f32, f16 or q8_0 cache (a row of q8_0 is
// a row of blocks, and i a multiple of 8, so the eight share one block's scale); value i alone.
inline __m256 load8(const float* row, int64_t i) { return _mm256_loadu_ps(row + i); }
inline __m256 load8(const uint16_t* row, int64_t i) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i)));
}
inline __m256 load8(const block_q8_0* row, int64_t i) {
  const block_q8_0& b = row[i / 32];
  const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + i % 32));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), _mm256_set1_ps(_cvtsh_ss(b.d)));
}
inline float value(const float* row, int64_t i) { return row[i]; }
inline float value(const uint16_t* row, int64_t i) { return _cvtsh_ss(row[i]); }
inline float value(const block_q8_0* row, int64_t i) {
  return static_cast<float>(row[i / 32].qs[i % 32]) * _cvtsh_ss(row[i / 32].d);
}

float dot_row(const float* q, const float* k, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(k + i), acc);
  float s = hsum(acc);
  for (; i < n; ++i) s += q[i] * k[i];
  return s;
}

void dot_rows_f32(const float* q, const float* k, int64_t k_stride, int64_t n_rows, int64_t n, float scale,
                  float* out) {
  int64_t r = 0;
  for (; r + 4 <= n_rows; r += 4) {
    const float* k0 = k + r * k_stride;
    const float* k1 = k0 + k_stride;
    const float* k2 = k1 + k_stride;
    const float* k3 = k2 + k_stride;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256 qv = _mm256_loadu_ps(q + i);
      a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + i), a0);
      a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k1 + i), a1);
      a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k2 + i), a2);
      a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k3 + i), a3);
    }
    float s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
    for (; i < n; ++i) {
      s0 += q[i] * k0[i];
      s1 += q[i] * k1[i];
      s2 += q[i] * k2[i];
      s3 += q[i] * k3[i];
    }
    out[r] = s0 * scale;
    out[r + 1] = s1 * scale;
    out[r + 2] = s2 * scale;
    out[r + 3] = s3 * scale;
  }
  for (; r < n_rows; ++r) out[r] = dot_row(q, k + r * k_stride, n) * scale;
}

void weighted_sum_f32(const float* w, const float* v, int64_t v_stride, int64_t n_rows, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t r = 0; r < n_rows; ++r) {
      const __m256 wr = _mm256_set1_ps(w[r]);
      const float* vr = v + r * v_stride + i;
      a0 = _mm256_fmadd_ps(wr, _mm256_loadu_ps(vr), a0);
      a1 = _mm256_fmadd_ps(wr, _mm256_loadu_ps(vr + 8), a1);
      a2 = _mm256_fmadd_ps(wr, _mm256_loadu_ps(vr + 16), a2);
      a3 = _mm256_fmadd_ps(wr, _mm256_loadu_ps(vr + 24), a3);
    }
    _mm256_storeu_ps(out + i, a0);
    _mm256_storeu_ps(out + i + 8, a1);
    _mm256_storeu_ps(out + i + 16, a2);
    _mm256_storeu_ps(out + i + 24, a3);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 a = _mm256_setzero_ps();
    for (int64_t r = 0; r < n_rows; ++r) a = _mm256_fmadd_ps(_mm256_set1_ps(w[r]), _mm256_loadu_ps(v + r * v_stride + i), a);
    _mm256_storeu_ps(out + i, a);
  }
  for (; i < n; ++i) {
    float a = 0.0f;
    for (int64_t r = 0; r < n_rows; ++r) a += w[r] * v[r * v_stride + i];
    out[i] = a;
  }
}

// Grouped-query attention (see attention_avx512.cpp): up to four query heads take each cached
// row from one load of it.  Sixteen ymm registers hold two columns of eight per query in the
// weighted sum, where the one-head kernel holds four.
// Eight sums in one vector: lane j = the sum of v[j]'s lanes, each v[j] summed in the same order
// (9 operations where eight horizontal sums take ~40).
inline __m256 sum8(const __m256 (&v)[8]) {
  const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// Four queries against two rows at a time, eight accumulators summed together (sum8).  Missing
// queries and rows of a partial block are computed from query / row 0 and not stored, so every
// score takes the same path.
template <typename T>
void dot_rows_multi(const float* q, int64_t q_stride, int nq, const T* k, int64_t k_stride, int64_t n_rows, int64_t n,
                    float scale, float* out, int64_t out_stride) {
  const int64_t full = n / 8 * 8;
  for (int j0 = 0; j0 < nq; j0 += 4) {
    const int mq = nq - j0 < 4 ? nq - j0 : 4;
    const float* qj[4];
    for (int j = 0; j < 4; ++j) qj[j] = q + (j0 + (j < mq ? j : 0)) * q_stride;
    for (int64_t r0 = 0; r0 < n_rows; r0 += 2) {
      const int64_t mr = n_rows - r0 < 2 ? n_rows - r0 : 2;
      const T* k0 = k + r0 * k_stride;
      const T* k1 = mr == 2 ? k0 + k_stride : k0;
      __m256 a[8];  // a[2j + r]: query j, row r
      for (int i = 0; i < 8; ++i) a[i] = _mm256_setzero_ps();
      for (int64_t i = 0; i < full; i += 8) {
        const __m256 kv0 = load8(k0, i), kv1 = load8(k1, i);
        for (int j = 0; j < 4; ++j) {
          const __m256 qv = _mm256_loadu_ps(qj[j] + i);
          a[2 * j] = _mm256_fmadd_ps(qv, kv0, a[2 * j]);
          a[2 * j + 1] = _mm256_fmadd_ps(qv, kv1, a[2 * j + 1]);
        }
      }
      alignas(32) float lanes[8];
      _mm256_store_ps(lanes, sum8(a));
      for (int j = 0; j < mq; ++j) {
        for (int r = 0; r < mr; ++r) {
          const T* kr = r == 0 ? k0 : k1;
          float s = lanes[2 * j + r];
          for (int64_t c = full; c < n; ++c) s += qj[j][c] * value(kr, c);
          out[(j0 + j) * out_stride + r0 + r] = s * scale;
        }
      }
    }
  }
}

template <int M, typename T>
void weighted_sum_group(const float* w, int64_t w_stride, const T* v, int64_t v_stride, int64_t n_rows, int64_t n,
                        float* out, int64_t out_stride) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 a[M][2];
    for (int j = 0; j < M; ++j) a[j][0] = a[j][1] = _mm256_setzero_ps();
    for (int64_t r = 0; r < n_rows; ++r) {
      const T* vr = v + r * v_stride;
      const __m256 v0 = load8(vr, i), v1 = load8(vr, i + 8);
      for (int j = 0; j < M; ++j) {
        const __m256 wr = _mm256_set1_ps(w[j * w_stride + r]);
        a[j][0] = _mm256_fmadd_ps(wr, v0, a[j][0]);
        a[j][1] = _mm256_fmadd_ps(wr, v1, a[j][1]);
      }
    }
    for (int j = 0; j < M; ++j) {
      _mm256_storeu_ps(out + j * out_stride + i, a[j][0]);
      _mm256_storeu_ps(out + j * out_stride + i + 8, a[j][1]);
    }
  }
  for (; i + 8 <= n; i += 8) {
    __m256 a[M];
    for (int j = 0; j < M; ++j) a[j] = _mm256_setzero_ps();
    for (int64_t r = 0; r < n_rows; ++r) {
      const __m256 vr = load8(v + r * v_stride, i);
      for (int j = 0; j < M; ++j) a[j] = _mm256_fmadd_ps(_mm256_set1_ps(w[j * w_stride + r]), vr, a[j]);
    }
    for (int j = 0; j < M; ++j) _mm256_storeu_ps(out + j * out_stride + i, a[j]);
  }
  for (; i < n; ++i) {
    for (int j = 0; j < M; ++j) {
      float a = 0.0f;
      for (int64_t r = 0; r < n_rows; ++r) a += w[j * w_stride + r] * value(v + r * v_stride, i);
      out[j * out_stride + i] = a;
    }
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

void install_avx2_attention(KernelTable& t) {
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
