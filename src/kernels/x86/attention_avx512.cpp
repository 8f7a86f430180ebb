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

#include "kernels/dispatch.h"

namespace plumb::kernels {

namespace {

inline __mmask16 tail_mask(int64_t left) { return static_cast<__mmask16>((1u << left) - 1u); }

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

}  // namespace

void install_avx512_attention(KernelTable& t) {
  t.dot_rows_f32 = dot_rows_f32;
  t.weighted_sum_f32 = weighted_sum_f32;
}

}  // namespace plumb::kernels
