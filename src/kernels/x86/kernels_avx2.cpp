// AVX2 + FMA + F16C kernels.  Integer dot products follow the scheme ggml uses on x86:
// weights and activations as int8 lanes, _mm256_maddubs_epi16 (u8 x s8) + _mm256_madd_epi16,
// then one float FMA per block with the two scales.
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
#include "kernels/kquants.h"
#include "kernels/x86/simd_math_avx2.h"

namespace plumb::kernels {

namespace {

using gguf::block_q4_0;
using gguf::block_q8_0;
using namespace avx2;

float vec_dot_f32(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const float*>(vw);
  const auto* x = static_cast<const float*>(vx);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),
         acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), acc0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += w[i] * x[i];
  return sum;
}

float vec_dot_f16(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const uint16_t*>(vw);
  const auto* x = static_cast<const float*>(vx);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),
         acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(load_f16(w + i), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(load_f16(w + i + 8), _mm256_loadu_ps(x + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(load_f16(w + i + 16), _mm256_loadu_ps(x + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(load_f16(w + i + 24), _mm256_loadu_ps(x + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(load_f16(w + i), _mm256_loadu_ps(x + i), acc0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += _cvtsh_ss(w[i]) * x[i];
  return sum;
}

float vec_dot_bf16(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const uint16_t*>(vw);
  const auto* x = static_cast<const float*>(vx);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),
         acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(load_bf16(w + i), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(load_bf16(w + i + 8), _mm256_loadu_ps(x + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(load_bf16(w + i + 16), _mm256_loadu_ps(x + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(load_bf16(w + i + 24), _mm256_loadu_ps(x + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(load_bf16(w + i), _mm256_loadu_ps(x + i), acc0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) {
    const uint32_t bits = static_cast<uint32_t>(w[i]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    sum += f * x[i];
  }
  return sum;
}

// int8 x int8 dot of 32 lanes as 8 int32 partial sums (sign moved onto x so maddubs sees u8).
inline __m256i dot_i8(__m256i w, __m256i x) {
  const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

// The 32 4-bit values of a q4_0 block in element order, minus 8.
inline __m256i unpack_q4_0(const uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(b, m4);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), m4);
  return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
}

inline __m256i load_q8_0_weights(const block_q8_0& b) { return load_i8x32(b.qs); }
inline __m256i load_q4_0_weights(const block_q4_0& b) { return unpack_q4_0(b.qs); }

// Q8_0 or Q4_0 weights (as int8 lanes via kLoad) x Q8_0 activations, two blocks per step.
template <typename Block, __m256i (*kLoad)(const Block&)>
float vec_dot_blocks_q8_0(int64_t n, const void* vw, const void* vx) {
  static_assert(gguf::kQK4_0 == gguf::kQK8_0, "both formats have 32-element blocks");
  const auto* w = static_cast<const Block*>(vw);
  const auto* x = static_cast<const block_q8_0*>(vx);
  const int64_t nb = n / gguf::kQK8_0;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    const __m256i p0 = dot_i8(kLoad(w[i]), load_i8x32(x[i].qs));
    const __m256i p1 = dot_i8(kLoad(w[i + 1]), load_i8x32(x[i + 1].qs));
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(w[i].d) * _cvtsh_ss(x[i].d)), _mm256_cvtepi32_ps(p0), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(w[i + 1].d) * _cvtsh_ss(x[i + 1].d)), _mm256_cvtepi32_ps(p1),
                           acc1);
  }
  for (; i < nb; ++i) {
    const __m256i p0 = dot_i8(kLoad(w[i]), load_i8x32(x[i].qs));
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(w[i].d) * _cvtsh_ss(x[i].d)), _mm256_cvtepi32_ps(p0), acc0);
  }
  return hsum(_mm256_add_ps(acc0, acc1));
}

float vec_dot_q8_0_q8_0(int64_t n, const void* vw, const void* vx) {
  return vec_dot_blocks_q8_0<block_q8_0, load_q8_0_weights>(n, vw, vx);
}
float vec_dot_q4_0_q8_0(int64_t n, const void* vw, const void* vx) {
  return vec_dot_blocks_q8_0<block_q4_0, load_q4_0_weights>(n, vw, vx);
}

// sum_j m[j] * (bsums[2j] + bsums[2j+1]) as 4 int32 lanes.
inline __m128i k_mins_dot(const uint8_t* mins8, const int16_t* bsums) {
  const __m128i m = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mins8)));
  const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums));
  const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums + 8));
  return _mm_madd_epi16(m, _mm_hadd_epi16(b0, b1));
}

float vec_dot_q4_K_q8_K(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q4_K*>(vw);
  const auto* x = static_cast<const block_q8_K*>(vx);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_m = _mm_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sm[16];
    unpack_k4_scales(w[i].scales, sm);
    const float d = x[i].d * _cvtsh_ss(w[i].d);
    const float dmin = -x[i].d * _cvtsh_ss(w[i].dmin);
    acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(k_mins_dot(sm + 8, x[i].bsums)), acc_m);
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i q = load_i8x32(w[i].qs + 32 * c);
      const __m256i lo = _mm256_and_si256(q, m4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      __m256i pl = _mm256_maddubs_epi16(lo, load_i8x32(x[i].qs + 64 * c));
      __m256i ph = _mm256_maddubs_epi16(hi, load_i8x32(x[i].qs + 64 * c + 32));
      pl = _mm256_madd_epi16(pl, _mm256_set1_epi16(sm[2 * c]));
      ph = _mm256_madd_epi16(ph, _mm256_set1_epi16(sm[2 * c + 1]));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc) + hsum(acc_m);
}

float vec_dot_q5_K_q8_K(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q5_K*>(vw);
  const auto* x = static_cast<const block_q8_K*>(vx);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i one = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_m = _mm_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sm[16];
    unpack_k4_scales(w[i].scales, sm);
    const float d = x[i].d * _cvtsh_ss(w[i].d);
    const float dmin = -x[i].d * _cvtsh_ss(w[i].dmin);
    acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(k_mins_dot(sm + 8, x[i].bsums)), acc_m);
    const __m256i hbits = load_i8x32(w[i].qh);
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i q = load_i8x32(w[i].qs + 32 * c);
      // The 16-bit shift moves bits across bytes, but the mask keeps only each byte's own bit.
      const __m256i h_lo = _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c), one);
      const __m256i h_hi = _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c + 1), one);
      const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_slli_epi16(h_lo, 4));
      const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), _mm256_slli_epi16(h_hi, 4));
      __m256i pl = _mm256_maddubs_epi16(lo, load_i8x32(x[i].qs + 64 * c));
      __m256i ph = _mm256_maddubs_epi16(hi, load_i8x32(x[i].qs + 64 * c + 32));
      pl = _mm256_madd_epi16(pl, _mm256_set1_epi16(sm[2 * c]));
      ph = _mm256_madd_epi16(ph, _mm256_set1_epi16(sm[2 * c + 1]));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc) + hsum(acc_m);
}

float vec_dot_q6_K_q8_K(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q6_K*>(vw);
  const auto* x = static_cast<const block_q8_K*>(vx);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i m2 = _mm256_set1_epi8(0x03);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i].scales)));
    // q is stored +32: subtract 32 * sum_k sc[k] * bsums[k] once instead of per lane.
    const __m256i corr = _mm256_madd_epi16(sc16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].bsums)));
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = load_i8x32(w[i].ql + 64 * h);
      const __m256i ql1 = load_i8x32(w[i].ql + 64 * h + 32);
      const __m256i qh = load_i8x32(w[i].qh + 32 * h);
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
      const int8_t* sc = w[i].scales + 8 * h;
      for (int g = 0; g < 4; ++g) {
        const __m256i p = _mm256_maddubs_epi16(q[g], load_i8x32(x[i].qs + 128 * h + 32 * g));
        const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * g + 1]), _mm_set1_epi16(sc[2 * g]));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
      }
    }
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(corr, 5));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(x[i].d * _cvtsh_ss(w[i].d)), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc);
}

void quantize_row_q8_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_0*>(vy);
  for (int64_t i = 0; i < n / gguf::kQK8_0; ++i) {
    const float* xb = x + i * gguf::kQK8_0;
    __m256 v[4];
    for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(xb + 8 * k);
    const float amax = hmax(_mm256_max_ps(_mm256_max_ps(abs_ps(v[0]), abs_ps(v[1])),
                                          _mm256_max_ps(abs_ps(v[2]), abs_ps(v[3]))));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    store_i8x32(y[i].qs, round_pack_i8(v, _mm256_set1_ps(id)));
  }
}

void quantize_row_q8_K(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_K*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* xb = x + i * kQK_K;
    __m256 mx = _mm256_setzero_ps();
    for (int k = 0; k < kQK_K; k += 8) mx = _mm256_max_ps(mx, abs_ps(_mm256_loadu_ps(xb + k)));
    const float amax = hmax(mx);
    y[i].d = amax / 127.0f;
    const __m256 id = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
    for (int k = 0; k < kQK_K; k += 32) {
      __m256 v[4];
      for (int j = 0; j < 4; ++j) v[j] = _mm256_loadu_ps(xb + k + 8 * j);
      const __m256i q = round_pack_i8(v, id);
      store_i8x32(y[i].qs + k, q);
      // Sums of each 16 lanes: u8(1) x s8 pairs, then pairs of pairs, then within the half.
      const __m256i s32 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
      const __m256i s64 = _mm256_hadd_epi32(s32, s32);
      const __m256i s128 = _mm256_hadd_epi32(s64, s64);
      y[i].bsums[k / 16] = static_cast<int16_t>(_mm256_extract_epi32(s128, 0));
      y[i].bsums[k / 16 + 1] = static_cast<int16_t>(_mm256_extract_epi32(s128, 4));
    }
  }
}

void rmsnorm(const float* x, const float* weight, float* out, int64_t n, float eps) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    acc0 = _mm256_fmadd_ps(a, a, acc0);
    acc1 = _mm256_fmadd_ps(b, b, acc1);
  }
  double ss = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / __builtin_sqrt(ss / static_cast<double>(n) + eps));
  const __m256 vs = _mm256_set1_ps(scale);
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(weight + i)));
  for (; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void softmax_inplace(float* x, int64_t n) {
  if (n <= 0) return;
  __m256 vmax = _mm256_set1_ps(x[0]);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  float max = hmax(vmax);
  for (; i < n; ++i) max = x[i] > max ? x[i] : max;
  const __m256 vm = _mm256_set1_ps(max);
  __m256 vsum = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  double sum = hsum(vsum);
  for (; i < n; ++i) {
    x[i] = exp_scalar(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  const __m256 vi = _mm256_set1_ps(inv);
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vi));
  for (; i < n; ++i) x[i] *= inv;
}

float dot_f32(const float* a, const float* b, int64_t n) { return vec_dot_f32(n, a, b); }

void axpy_f32(float a, const float* x, float* out, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(out + i)));
  for (; i < n; ++i) out[i] += a * x[i];
}

void swiglu_inplace(float* gate, const float* up, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) gate[i] = gate[i] / (1.0f + exp_scalar(-gate[i])) * up[i];
}

// gelu_tanh(x) = x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)).
void geglu_inplace(float* gate, const float* up, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), k = _mm256_set1_ps(-1.5957691216057308f), c = _mm256_set1_ps(0.044715f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(gate + i);
    const __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(c, x), _mm256_mul_ps(x, x), x);
    const __m256 e = exp_ps(_mm256_mul_ps(k, inner));
    _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) {
    const float x = gate[i];
    gate[i] = x / (1.0f + exp_scalar(-1.5957691216057308f * (x + 0.044715f * x * x * x))) * up[i];
  }
}

float sum_f32(const float* x, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),
         acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_add_ps(acc0, _mm256_loadu_ps(x + i));
    acc1 = _mm256_add_ps(acc1, _mm256_loadu_ps(x + i + 8));
    acc2 = _mm256_add_ps(acc2, _mm256_loadu_ps(x + i + 16));
    acc3 = _mm256_add_ps(acc3, _mm256_loadu_ps(x + i + 24));
  }
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += x[i];
  return sum;
}

void set_dot(KernelTable& t, TensorType type, VecDotFn dot) { t.weights[static_cast<uint32_t>(type)].vec_dot = dot; }
void set_quant(KernelTable& t, TensorType type, QuantizeRowFn q) {
  t.weights[static_cast<uint32_t>(type)].quantize_x = q;
}

}  // namespace

void install_avx2_kernels(KernelTable& t) {
  using T = TensorType;
  set_dot(t, T::kF32, vec_dot_f32);
  set_dot(t, T::kF16, vec_dot_f16);
  set_dot(t, T::kBF16, vec_dot_bf16);
  set_dot(t, T::kQ8_0, vec_dot_q8_0_q8_0);
  set_dot(t, T::kQ4_0, vec_dot_q4_0_q8_0);
  set_dot(t, T::kQ4_K, vec_dot_q4_K_q8_K);
  set_dot(t, T::kQ5_K, vec_dot_q5_K_q8_K);
  set_dot(t, T::kQ6_K, vec_dot_q6_K_q8_K);
  set_quant(t, T::kQ8_0, quantize_row_q8_0);
  set_quant(t, T::kQ4_0, quantize_row_q8_0);
  set_quant(t, T::kQ4_K, quantize_row_q8_K);
  set_quant(t, T::kQ5_K, quantize_row_q8_K);
  set_quant(t, T::kQ6_K, quantize_row_q8_K);
  t.rmsnorm = rmsnorm;
  t.softmax_inplace = softmax_inplace;
  t.dot_f32 = dot_f32;
  t.axpy_f32 = axpy_f32;
  t.swiglu_inplace = swiglu_inplace;
  t.geglu_inplace = geglu_inplace;
  t.sum_f32 = sum_f32;
}

}  // namespace plumb::kernels
