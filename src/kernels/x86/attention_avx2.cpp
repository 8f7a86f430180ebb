// AVX2 attention over one head's cached positions: scores (dot_rows_f32) and the weighted sum
// of values (weighted_sum_f32).  Called once per head, where the forward pass used to call
// dot_f32 and axpy_f32 once per position: q (or the output) stays in registers across rows,
// four rows share each load of q, and the output is stored once instead of once per position.
//
// Only intrinsics and file-local functions here (see dispatch.h for why).
#include <immintrin.h>

#include "kernels/dispatch.h"

namespace plumb::kernels {

namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
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

}  // namespace

void install_avx2_attention(KernelTable& t) {
  t.dot_rows_f32 = dot_rows_f32;
  t.weighted_sum_f32 = weighted_sum_f32;
}

}  // namespace plumb::kernels
