// Scalar reference kernels: the definition every SIMD kernel is tested against, and the
// fallback on CPUs without AVX2.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "gguf/quantize.h"
#include "kernels/dispatch.h"
#include "kernels/kquants.h"

namespace plumb::kernels {

namespace {

using gguf::block_mxfp4;
using gguf::block_q4_0;
using gguf::block_q4_1;
using gguf::block_q5_0;
using gguf::block_q5_1;
using gguf::block_q8_0;

float vec_dot_f32(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const float*>(vw);
  const auto* x = static_cast<const float*>(vx);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += w[i] * x[i];
  return sum;
}

float vec_dot_f16(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const uint16_t*>(vw);
  const auto* x = static_cast<const float*>(vx);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += fp16_to_fp32(w[i]) * x[i];
  return sum;
}

float vec_dot_bf16(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const uint16_t*>(vw);
  const auto* x = static_cast<const float*>(vx);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += bf16_to_fp32(w[i]) * x[i];
  return sum;
}

float vec_dot_q8_0_q8_0(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q8_0*>(vw);
  const auto* x = static_cast<const block_q8_0*>(vx);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / gguf::kQK8_0; ++i) {
    int32_t isum = 0;
    for (int j = 0; j < gguf::kQK8_0; ++j) isum += w[i].qs[j] * x[i].qs[j];
    sum += static_cast<float>(isum) * fp16_to_fp32(w[i].d) * fp16_to_fp32(x[i].d);
  }
  return sum;
}

float vec_dot_q4_0_q8_0(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q4_0*>(vw);
  const auto* x = static_cast<const block_q8_0*>(vx);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / gguf::kQK4_0; ++i) {
    int32_t isum = 0;
    for (int j = 0; j < gguf::kQK4_0 / 2; ++j) {
      isum += ((w[i].qs[j] & 0xF) - 8) * x[i].qs[j];
      isum += ((w[i].qs[j] >> 4) - 8) * x[i].qs[j + gguf::kQK4_0 / 2];
    }
    sum += static_cast<float>(isum) * fp16_to_fp32(w[i].d) * fp16_to_fp32(x[i].d);
  }
  return sum;
}

// The 5-bit quant of element j of a q5_0 / q5_1 block (bit j of the little-endian qh is bit 4).
int quant5(const uint8_t* qs, const uint8_t* qh, int j) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  const int nibble = j < 16 ? (qs[j] & 0xF) : (qs[j - 16] >> 4);
  return nibble | static_cast<int>(((h >> j) & 1) << 4);
}

// Q4_1 / Q5_1 (x = d*q + m) against Q8_0 activations (xa = dx*a): per block
// d*dx*sum(q*a) + m*dx*sum(a), with sum(a) the exact integer sum of the block's activations.
float vec_dot_q4_1_q8_0(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q4_1*>(vw);
  const auto* x = static_cast<const block_q8_0*>(vx);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / gguf::kQK4_1; ++i) {
    int32_t isum = 0;
    int32_t asum = 0;
    for (int j = 0; j < gguf::kQK4_1 / 2; ++j) {
      isum += (w[i].qs[j] & 0xF) * x[i].qs[j] + (w[i].qs[j] >> 4) * x[i].qs[j + gguf::kQK4_1 / 2];
      asum += x[i].qs[j] + x[i].qs[j + gguf::kQK4_1 / 2];
    }
    const float dx = fp16_to_fp32(x[i].d);
    sum += static_cast<float>(isum) * fp16_to_fp32(w[i].d) * dx + static_cast<float>(asum) * fp16_to_fp32(w[i].m) * dx;
  }
  return sum;
}

float vec_dot_q5_0_q8_0(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q5_0*>(vw);
  const auto* x = static_cast<const block_q8_0*>(vx);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / gguf::kQK5_0; ++i) {
    int32_t isum = 0;
    for (int j = 0; j < gguf::kQK5_0; ++j) isum += (quant5(w[i].qs, w[i].qh, j) - 16) * x[i].qs[j];
    sum += static_cast<float>(isum) * fp16_to_fp32(w[i].d) * fp16_to_fp32(x[i].d);
  }
  return sum;
}

float vec_dot_q5_1_q8_0(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q5_1*>(vw);
  const auto* x = static_cast<const block_q8_0*>(vx);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / gguf::kQK5_1; ++i) {
    int32_t isum = 0;
    int32_t asum = 0;
    for (int j = 0; j < gguf::kQK5_1; ++j) {
      isum += quant5(w[i].qs, w[i].qh, j) * x[i].qs[j];
      asum += x[i].qs[j];
    }
    const float dx = fp16_to_fp32(x[i].d);
    sum += static_cast<float>(isum) * fp16_to_fp32(w[i].d) * dx + static_cast<float>(asum) * fp16_to_fp32(w[i].m) * dx;
  }
  return sum;
}

// MXFP4 against Q8_0 activations, per block as ggml: (dx * scale) * sum(value * a), the
// activation scale times the weights' power of two rounded once (to a subnormal for tiny e).
float vec_dot_mxfp4_q8_0(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_mxfp4*>(vw);
  const auto* x = static_cast<const block_q8_0*>(vx);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / gguf::kQK_MXFP4; ++i) {
    int32_t isum = 0;
    for (int j = 0; j < gguf::kQK_MXFP4 / 2; ++j) {
      isum += gguf::kMxfp4Values[w[i].qs[j] & 0xF] * x[i].qs[j];
      isum += gguf::kMxfp4Values[w[i].qs[j] >> 4] * x[i].qs[j + gguf::kQK_MXFP4 / 2];
    }
    sum += fp16_to_fp32(x[i].d) * gguf::e8m0_to_fp32_half(w[i].e) * static_cast<float>(isum);
  }
  return sum;
}

// Q4_K / Q5_K: sum_j d*sc[j]*sum(q*x) - dmin*m[j]*sum(x), with sum(x) of a sub-block of 32
// taken from the two bsums of 16 it spans.
float vec_dot_q4_K_q8_K(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q4_K*>(vw);
  const auto* x = static_cast<const block_q8_K*>(vx);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t scaled = 0;
    int32_t mins = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      get_scale_min_k4(j, w[i].scales, &sc, &m);
      const uint8_t* qs = w[i].qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      int32_t isum = 0;
      for (int l = 0; l < 32; ++l) isum += ((qs[l] >> shift) & 0xF) * x[i].qs[32 * j + l];
      scaled += sc * isum;
      mins += m * (x[i].bsums[2 * j] + x[i].bsums[2 * j + 1]);
    }
    sum += x[i].d * (fp16_to_fp32(w[i].d) * static_cast<float>(scaled) -
                     fp16_to_fp32(w[i].dmin) * static_cast<float>(mins));
  }
  return sum;
}

float vec_dot_q5_K_q8_K(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q5_K*>(vw);
  const auto* x = static_cast<const block_q8_K*>(vx);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t scaled = 0;
    int32_t mins = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      get_scale_min_k4(j, w[i].scales, &sc, &m);
      const uint8_t* qs = w[i].qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      int32_t isum = 0;
      for (int l = 0; l < 32; ++l) {
        const int q = ((qs[l] >> shift) & 0xF) | (((w[i].qh[l] >> j) & 1) << 4);
        isum += q * x[i].qs[32 * j + l];
      }
      scaled += sc * isum;
      mins += m * (x[i].bsums[2 * j] + x[i].bsums[2 * j + 1]);
    }
    sum += x[i].d * (fp16_to_fp32(w[i].d) * static_cast<float>(scaled) -
                     fp16_to_fp32(w[i].dmin) * static_cast<float>(mins));
  }
  return sum;
}

float vec_dot_q6_K_q8_K(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const block_q6_K*>(vw);
  const auto* x = static_cast<const block_q8_K*>(vx);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t q[kQK_K];
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = w[i].ql + 64 * h;
      const uint8_t* qh = w[i].qh + 32 * h;
      int8_t* out = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        out[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        out[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        out[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        out[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    int32_t total = 0;
    for (int k = 0; k < 16; ++k) {
      int32_t isum = 0;
      for (int l = 0; l < 16; ++l) isum += q[16 * k + l] * x[i].qs[16 * k + l];
      total += w[i].scales[k] * isum;
    }
    sum += fp16_to_fp32(w[i].d) * x[i].d * static_cast<float>(total);
  }
  return sum;
}

void dequantize_row_f32(const void* x, float* y, int64_t n) { std::memcpy(y, x, static_cast<size_t>(n) * 4); }

void rmsnorm(const float* x, const float* weight, float* out, int64_t n, float eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void softmax_inplace(float* x, int64_t n) {
  if (n <= 0) return;
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

float dot_f32(const float* a, const float* b, int64_t n) { return vec_dot_f32(n, a, b); }

void axpy_f32(float a, const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] += a * x[i];
}

void dot_rows_f32(const float* q, const float* k, int64_t k_stride, int64_t n_rows, int64_t n, float scale,
                  float* out) {
  for (int64_t r = 0; r < n_rows; ++r) out[r] = vec_dot_f32(n, q, k + r * k_stride) * scale;
}

void weighted_sum_f32(const float* w, const float* v, int64_t v_stride, int64_t n_rows, int64_t n, float* out) {
  std::fill(out, out + n, 0.0f);
  for (int64_t r = 0; r < n_rows; ++r) axpy_f32(w[r], v + r * v_stride, out, n);
}

// Grouped queries: each query on its own, by the one-head definitions above.
void dot_rows_multi_f32(const float* q, int64_t q_stride, int nq, const float* k, int64_t k_stride, int64_t n_rows,
                        int64_t n, float scale, float* out, int64_t out_stride) {
  for (int j = 0; j < nq; ++j) dot_rows_f32(q + j * q_stride, k, k_stride, n_rows, n, scale, out + j * out_stride);
}

void weighted_sum_multi_f32(const float* w, int64_t w_stride, int nq, const float* v, int64_t v_stride,
                            int64_t n_rows, int64_t n, float* out, int64_t out_stride) {
  for (int j = 0; j < nq; ++j) weighted_sum_f32(w + j * w_stride, v, v_stride, n_rows, n, out + j * out_stride);
}

void dot_rows_multi_f16(const float* q, int64_t q_stride, int nq, const uint16_t* k, int64_t k_stride, int64_t n_rows,
                        int64_t n, float scale, float* out, int64_t out_stride) {
  for (int j = 0; j < nq; ++j) {
    for (int64_t r = 0; r < n_rows; ++r) {
      float s = 0.0f;
      for (int64_t i = 0; i < n; ++i) s += q[j * q_stride + i] * fp16_to_fp32(k[r * k_stride + i]);
      out[j * out_stride + r] = s * scale;
    }
  }
}

void weighted_sum_multi_f16(const float* w, int64_t w_stride, int nq, const uint16_t* v, int64_t v_stride,
                            int64_t n_rows, int64_t n, float* out, int64_t out_stride) {
  for (int j = 0; j < nq; ++j) {
    float* o = out + j * out_stride;
    std::fill(o, o + n, 0.0f);
    for (int64_t r = 0; r < n_rows; ++r)
      for (int64_t i = 0; i < n; ++i) o[i] += w[j * w_stride + r] * fp16_to_fp32(v[r * v_stride + i]);
  }
}

// Value i of a q8_0 row.
float q8_0_value(const gguf::block_q8_0* row, int64_t i) {
  const gguf::block_q8_0& b = row[i / gguf::kQK8_0];
  return static_cast<float>(b.qs[i % gguf::kQK8_0]) * fp16_to_fp32(b.d);
}

void dot_rows_multi_q8_0(const float* q, int64_t q_stride, int nq, const void* vk, int64_t k_stride, int64_t n_rows,
                         int64_t n, float scale, float* out, int64_t out_stride) {
  const auto* k = static_cast<const gguf::block_q8_0*>(vk);
  const int64_t row_blocks = k_stride / gguf::kQK8_0;
  for (int j = 0; j < nq; ++j) {
    for (int64_t r = 0; r < n_rows; ++r) {
      float s = 0.0f;
      for (int64_t i = 0; i < n; ++i) s += q[j * q_stride + i] * q8_0_value(k + r * row_blocks, i);
      out[j * out_stride + r] = s * scale;
    }
  }
}

void weighted_sum_multi_q8_0(const float* w, int64_t w_stride, int nq, const void* vv, int64_t v_stride,
                             int64_t n_rows, int64_t n, float* out, int64_t out_stride) {
  const auto* v = static_cast<const gguf::block_q8_0*>(vv);
  const int64_t row_blocks = v_stride / gguf::kQK8_0;
  for (int j = 0; j < nq; ++j) {
    float* o = out + j * out_stride;
    std::fill(o, o + n, 0.0f);
    for (int64_t r = 0; r < n_rows; ++r)
      for (int64_t i = 0; i < n; ++i) o[i] += w[j * w_stride + r] * q8_0_value(v + r * row_blocks, i);
  }
}

void swiglu_inplace(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) written as x * sigmoid(2 sqrt(2/pi) (...)): the
// same identity the SIMD versions use, and no overflow for large |x|.
void geglu_inplace(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    gate[i] = x / (1.0f + std::exp(-1.5957691216057308f * (x + 0.044715f * x * x * x))) * up[i];
  }
}

float sum_f32(const float* x, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  return sum;
}

void set(KernelTable& t, TensorType type, TensorType vec_dot_type, QuantizeRowFn quantize_x, VecDotFn vec_dot,
         DequantizeRowFn dequantize) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(type)];
  k.vec_dot_type = vec_dot_type;
  k.quantize_x = quantize_x;
  k.vec_dot = vec_dot;
  k.gemm = nullptr;
  k.dequantize = dequantize;
}

}  // namespace

void install_scalar_kernels(KernelTable& t) {
  using T = TensorType;
  set(t, T::kF32, T::kF32, nullptr, vec_dot_f32, dequantize_row_f32);
  set(t, T::kF16, T::kF32, nullptr, vec_dot_f16, gguf::dequantize_row_f16);
  set(t, T::kBF16, T::kF32, nullptr, vec_dot_bf16, gguf::dequantize_row_bf16);
  set(t, T::kQ8_0, T::kQ8_0, gguf::quantize_row_q8_0, vec_dot_q8_0_q8_0, gguf::dequantize_row_q8_0);
  set(t, T::kQ4_0, T::kQ8_0, gguf::quantize_row_q8_0, vec_dot_q4_0_q8_0, gguf::dequantize_row_q4_0);
  set(t, T::kQ4_1, T::kQ8_0, gguf::quantize_row_q8_0, vec_dot_q4_1_q8_0, gguf::dequantize_row_q4_1);
  set(t, T::kQ5_0, T::kQ8_0, gguf::quantize_row_q8_0, vec_dot_q5_0_q8_0, gguf::dequantize_row_q5_0);
  set(t, T::kQ5_1, T::kQ8_0, gguf::quantize_row_q8_0, vec_dot_q5_1_q8_0, gguf::dequantize_row_q5_1);
  set(t, T::kMXFP4, T::kQ8_0, gguf::quantize_row_q8_0, vec_dot_mxfp4_q8_0, gguf::dequantize_row_mxfp4);
  set(t, T::kQ4_K, T::kQ8_K, quantize_row_q8_K_ref, vec_dot_q4_K_q8_K, dequantize_row_q4_K);
  set(t, T::kQ5_K, T::kQ8_K, quantize_row_q8_K_ref, vec_dot_q5_K_q8_K, dequantize_row_q5_K);
  set(t, T::kQ6_K, T::kQ8_K, quantize_row_q8_K_ref, vec_dot_q6_K_q8_K, dequantize_row_q6_K);
  t.rmsnorm = rmsnorm;
  t.softmax_inplace = softmax_inplace;
  t.dot_f32 = dot_f32;
  t.axpy_f32 = axpy_f32;
  t.dot_rows_f32 = dot_rows_f32;
  t.weighted_sum_f32 = weighted_sum_f32;
  t.dot_rows_multi_f32 = dot_rows_multi_f32;
  t.weighted_sum_multi_f32 = weighted_sum_multi_f32;
  t.dot_rows_multi_f16 = dot_rows_multi_f16;
  t.weighted_sum_multi_f16 = weighted_sum_multi_f16;
  t.dot_rows_multi_q8_0 = dot_rows_multi_q8_0;
  t.weighted_sum_multi_q8_0 = weighted_sum_multi_q8_0;
  t.swiglu_inplace = swiglu_inplace;
  t.geglu_inplace = geglu_inplace;
  t.sum_f32 = sum_f32;
}

}  // namespace plumb::kernels
