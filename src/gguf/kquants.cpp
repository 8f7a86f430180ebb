#include "gguf/kquants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"

namespace plumb::gguf {

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

void pack_scale_min_k4(const uint8_t* sc, const uint8_t* m, uint8_t* q) {
  std::memset(q, 0, kKScaleSize);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      q[j] |= sc[j] & 63;
      q[j + 4] |= m[j] & 63;
    } else {
      q[j + 4] = static_cast<uint8_t>((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
      q[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      q[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
    }
  }
}

namespace {

int clamp_round(float v, int lo, int hi) {
  const int i = static_cast<int>(std::nearbyint(v));
  return std::clamp(i, lo, hi);
}

// Shared by Q4_K (n_levels 15) and Q5_K (31): per sub-block of 32, x ≈ scale * q - min with
// min >= 0, then the 8 scales and mins are themselves quantized to 6 bits against d and dmin.
void quantize_k_block_asym(const float* x, int n_levels, uint16_t* d_out, uint16_t* dmin_out, uint8_t* scales,
                           uint8_t* q /* 256 values */) {
  float sub_scale[8];
  float sub_min[8];
  float max_scale = 0.0f;
  float max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float mn = 0.0f;
    float mx = xs[0];
    for (int l = 0; l < 32; ++l) {
      mn = std::min(mn, xs[l]);
      mx = std::max(mx, xs[l]);
    }
    sub_scale[j] = std::max(0.0f, mx - mn) / static_cast<float>(n_levels);
    sub_min[j] = -mn;
    max_scale = std::max(max_scale, sub_scale[j]);
    max_min = std::max(max_min, sub_min[j]);
  }
  *d_out = fp32_to_fp16(max_scale / 63.0f);
  *dmin_out = fp32_to_fp16(max_min / 63.0f);
  const float d = fp16_to_fp32(*d_out);
  const float dmin = fp16_to_fp32(*dmin_out);
  uint8_t sc[8];
  uint8_t m[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>(d > 0.0f ? clamp_round(sub_scale[j] / d, 0, 63) : 0);
    m[j] = static_cast<uint8_t>(dmin > 0.0f ? clamp_round(sub_min[j] / dmin, 0, 63) : 0);
  }
  pack_scale_min_k4(sc, m, scales);
  for (int j = 0; j < 8; ++j) {
    const float eff_scale = d * sc[j];
    const float eff_min = dmin * m[j];
    for (int l = 0; l < 32; ++l) {
      q[32 * j + l] =
          static_cast<uint8_t>(eff_scale > 0.0f ? clamp_round((x[32 * j + l] + eff_min) / eff_scale, 0, n_levels) : 0);
    }
  }
}

}  // namespace

void quantize_row_q4_K_ref(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q4_K*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t q[kQK_K];
    block_q4_K b;
    quantize_k_block_asym(x + i * kQK_K, 15, &b.d, &b.dmin, b.scales, q);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
    std::memcpy(&y[i], &b, sizeof b);
  }
}

void quantize_row_q5_K_ref(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q5_K*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t q[kQK_K];
    block_q5_K b;
    quantize_k_block_asym(x + i * kQK_K, 31, &b.d, &b.dmin, b.scales, q);
    std::memset(b.qh, 0, sizeof b.qh);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo = q[64 * c + l];
        const uint8_t hi = q[64 * c + 32 + l];
        b.qs[32 * c + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        b.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
      }
    }
    std::memcpy(&y[i], &b, sizeof b);
  }
}

void quantize_row_q6_K_ref(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q6_K*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* xb = x + i * kQK_K;
    // Per sub-block of 16 the value of largest magnitude maps to -32 (as Q4_0 maps it to -8).
    float sub_scale[16];
    float max_abs_scale = 0.0f;
    for (int k = 0; k < 16; ++k) {
      float amax = 0.0f;
      float max = 0.0f;
      for (int l = 0; l < 16; ++l) {
        const float v = xb[16 * k + l];
        if (std::fabs(v) > amax) {
          amax = std::fabs(v);
          max = v;
        }
      }
      sub_scale[k] = max / -32.0f;
      max_abs_scale = std::max(max_abs_scale, std::fabs(sub_scale[k]));
    }
    block_q6_K b;
    b.d = fp32_to_fp16(max_abs_scale / 127.0f);
    const float d = fp16_to_fp32(b.d);
    uint8_t q[kQK_K];
    for (int k = 0; k < 16; ++k) {
      b.scales[k] = static_cast<int8_t>(d > 0.0f ? clamp_round(sub_scale[k] / d, -127, 127) : 0);
      const float eff = d * b.scales[k];
      for (int l = 0; l < 16; ++l) {
        const int v = eff != 0.0f ? clamp_round(xb[16 * k + l] / eff, -32, 31) : 0;
        q[16 * k + l] = static_cast<uint8_t>(v + 32);
      }
    }
    std::memset(b.qh, 0, sizeof b.qh);
    for (int h = 0; h < 2; ++h) {
      uint8_t* ql = b.ql + 64 * h;
      uint8_t* qh = b.qh + 32 * h;
      const uint8_t* qq = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((qq[l] & 0xF) | ((qq[l + 64] & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((qq[l + 32] & 0xF) | ((qq[l + 96] & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) | ((qq[l + 64] >> 4) << 4) |
                                     ((qq[l + 96] >> 4) << 6));
      }
    }
    std::memcpy(&y[i], &b, sizeof b);
  }
}

void quantize_row_q8_K_ref(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_K*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* xb = x + i * kQK_K;
    float amax = 0.0f;
    for (int j = 0; j < kQK_K; ++j) amax = std::max(amax, std::fabs(xb[j]));
    block_q8_K b;
    b.d = amax / 127.0f;
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < kQK_K; ++j) b.qs[j] = static_cast<int8_t>(clamp_round(xb[j] * id, -127, 127));
    for (int k = 0; k < 16; ++k) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += b.qs[16 * k + l];
      b.bsums[k] = static_cast<int16_t>(s);
    }
    std::memcpy(&y[i], &b, sizeof b);
  }
}

void dequantize_row_q4_K(const void* vx, float* y, int64_t n) {
  const auto* src = static_cast<const uint8_t*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    block_q4_K b;
    std::memcpy(&b, src + i * sizeof b, sizeof b);
    const float d = fp16_to_fp32(b.d);
    const float dmin = fp16_to_fp32(b.dmin);
    float* out = y + i * kQK_K;
    for (int c = 0; c < 4; ++c) {
      uint8_t sc0, m0, sc1, m1;
      get_scale_min_k4(2 * c, b.scales, &sc0, &m0);
      get_scale_min_k4(2 * c + 1, b.scales, &sc1, &m1);
      for (int l = 0; l < 32; ++l) {
        out[64 * c + l] = d * sc0 * (b.qs[32 * c + l] & 0xF) - dmin * m0;
        out[64 * c + 32 + l] = d * sc1 * (b.qs[32 * c + l] >> 4) - dmin * m1;
      }
    }
  }
}

void dequantize_row_q5_K(const void* vx, float* y, int64_t n) {
  const auto* src = static_cast<const uint8_t*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    block_q5_K b;
    std::memcpy(&b, src + i * sizeof b, sizeof b);
    const float d = fp16_to_fp32(b.d);
    const float dmin = fp16_to_fp32(b.dmin);
    float* out = y + i * kQK_K;
    for (int c = 0; c < 4; ++c) {
      uint8_t sc0, m0, sc1, m1;
      get_scale_min_k4(2 * c, b.scales, &sc0, &m0);
      get_scale_min_k4(2 * c + 1, b.scales, &sc1, &m1);
      for (int l = 0; l < 32; ++l) {
        const int q0 = (b.qs[32 * c + l] & 0xF) | (((b.qh[l] >> (2 * c)) & 1) << 4);
        const int q1 = (b.qs[32 * c + l] >> 4) | (((b.qh[l] >> (2 * c + 1)) & 1) << 4);
        out[64 * c + l] = d * sc0 * q0 - dmin * m0;
        out[64 * c + 32 + l] = d * sc1 * q1 - dmin * m1;
      }
    }
  }
}

void dequantize_row_q6_K(const void* vx, float* y, int64_t n) {
  const auto* src = static_cast<const uint8_t*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    block_q6_K b;
    std::memcpy(&b, src + i * sizeof b, sizeof b);
    const float d = fp16_to_fp32(b.d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = b.ql + 64 * h;
      const uint8_t* qh = b.qh + 32 * h;
      const int8_t* sc = b.scales + 8 * h;
      float* out = y + i * kQK_K + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        out[l] = d * sc[is + 0] * q1;
        out[l + 32] = d * sc[is + 2] * q2;
        out[l + 64] = d * sc[is + 4] * q3;
        out[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

void dequantize_row_q8_K(const void* vx, float* y, int64_t n) {
  const auto* src = static_cast<const uint8_t*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    block_q8_K b;
    std::memcpy(&b, src + i * sizeof b, sizeof b);
    for (int j = 0; j < kQK_K; ++j) y[i * kQK_K + j] = b.d * b.qs[j];
  }
}

}  // namespace plumb::gguf
