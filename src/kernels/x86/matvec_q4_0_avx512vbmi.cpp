// AVX-512 single-token matvec for q4_0 weights on CPUs with AVX512_VBMI (Ice Lake, Zen 4 and
// later): one byte permute (VPERMT2B) gathers the 64 packed bytes of four 18-byte blocks out of
// the loads that also supply the scales, so four blocks cost one permute, three ops to split
// the nibbles, two chained VPDPBUSD (low and high nibbles land in the same lanes), and one
// conversion, scale permute and FMA — about half the work of unpacking block pairs.
//
// Prepared activations, per unit u of four blocks (zeros past the last block):
//   lo[u] 64 bytes: elements 0-15 of blocks 4u .. 4u+3 (the low nibbles' partners),
//   hi[u] 64 bytes: elements 16-31 of the same blocks,
//   off[u] 16 int32: -8 * (sum of the eight activations each lane meets), so that the chained
//          VPDPBUSD started from off[u] yields sum (q - 8) * x per lane;
// then 8 float activation scales per group of 8 blocks.
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
#include "kernels/x86/prefetch.h"

namespace plumb::kernels {

namespace {

using gguf::block_q8_0;

constexpr size_t kBlockBytes = 18;               // sizeof(block_q4_0)
constexpr size_t kGroupBytes = 8 * kBlockBytes;  // 144

struct Layout {
  int64_t nb, n_groups, n_units;
  explicit Layout(int64_t n) : nb(n / 32), n_groups((n / 32 + 7) / 8), n_units(2 * ((n / 32 + 7) / 8)) {}
  size_t bytes() const { return static_cast<size_t>(n_units) * 192 + static_cast<size_t>(n_groups) * 32; }
};

size_t x_bytes(int64_t n) { return Layout(n).bytes(); }

void prepare_x(int64_t n, const void* vxq, void* vxp) {
  const Layout L(n);
  const auto* xq = static_cast<const block_q8_0*>(vxq);
  auto* out = static_cast<uint8_t*>(vxp);
  const __m512i eight = _mm512_set1_epi8(8);
  for (int64_t u = 0; u < L.n_units; ++u) {
    uint8_t* lo = out + u * 192;
    uint8_t* hi = lo + 64;
    for (int j = 0; j < 4; ++j) {
      const int64_t b = 4 * u + j;
      if (b < L.nb) {
        std::memcpy(lo + 16 * j, xq[b].qs, 16);
        std::memcpy(hi + 16 * j, xq[b].qs + 16, 16);
      } else {
        std::memset(lo + 16 * j, 0, 16);
        std::memset(hi + 16 * j, 0, 16);
      }
    }
    const __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, _mm512_load_si512(lo)),
                                          eight, _mm512_load_si512(hi));
    _mm512_store_si512(hi + 64, _mm512_sub_epi32(_mm512_setzero_si512(), s));
  }
  auto* dx = reinterpret_cast<float*>(out + L.n_units * 192);
  for (int64_t b = 0; b < L.n_groups * 8; ++b) dx[b] = b < L.nb ? _cvtsh_ss(xq[b].d) : 0.0f;
}

// Byte indices (into the 128 bytes of two loads) of the packed nibbles of four consecutive
// blocks whose first block starts `start` bytes into the first load.
inline __m512i nibble_index(int start) {
  alignas(64) uint8_t idx[64];
  for (int k = 0; k < 64; ++k) idx[k] = static_cast<uint8_t>(start + 18 * (k / 16) + 2 + k % 16);
  return _mm512_load_si512(idx);
}

struct Constants {
  __m512i scale_words;  // words 0, 9, ..., 63: the fp16 scales of 8 blocks from 128 bytes
  __m512i nibbles[2];   // blocks 0-3 from (a, b), blocks 4-7 from (b, c)
  __m512i lanes[2];     // float scale index per lane for blocks 0-3 / 4-7 (128-bit lane = block)
  __m512i m4;
  Constants()
      : scale_words(_mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 63, 54,
                                     45, 36, 27, 18, 9, 0)),
        nibbles{nibble_index(0), nibble_index(kGroupBytes / 2 - 64)},
        lanes{_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
              _mm512_set_epi32(7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4)},
        m4(_mm512_set1_epi8(0x0F)) {}
};

// One group of 8 blocks of one row (144 bytes at gp; reads 16 bytes past the first 128 only
// through a masked load, so never past the row).
inline __attribute__((always_inline)) void group_row(const Constants& k, const uint8_t* gp, __m256 dxg,
                                                      const __m512i* unit, __m512& acc) {
  const __m512i a = _mm512_loadu_si512(gp);
  const __m512i b = _mm512_loadu_si512(gp + 64);
  const __m512i c = _mm512_maskz_loadu_epi8(0xFFFF, gp + 128);
  const __m512 d = _mm512_castps256_ps512(
      _mm256_mul_ps(_mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(a, k.scale_words, b))), dxg));
  const __m512i v[2] = {_mm512_permutex2var_epi8(a, k.nibbles[0], b), _mm512_permutex2var_epi8(b, k.nibbles[1], c)};
  #pragma GCC unroll 8
  for (int h = 0; h < 2; ++h) {
    const __m512i* x = unit + 3 * h;  // lo, hi, off
    const __m512i lo = _mm512_and_si512(v[h], k.m4);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v[h], 4), k.m4);
    const __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_load_si512(x + 2), lo, _mm512_load_si512(x)),
                                          hi, _mm512_load_si512(x + 1));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(k.lanes[h], d), acc);
  }
}

// One row, read as part of the thread's linear stream of rows (see kStreamPrefetchBytes); even
// and odd groups go to separate accumulators so the FMAs do not wait on each other.  Every row
// takes the same path, so results do not depend on how rows are split between threads.
void row_dot(const Layout& L, const Constants& k, const uint8_t* w, const uint8_t* xp, float* y) {
  const auto* units = reinterpret_cast<const __m512i*>(xp);
  const auto* dx = reinterpret_cast<const float*>(xp + L.n_units * 192);
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  const int64_t full = L.nb / 8;
  for (int64_t g = 0; g < full; ++g) {
    const uint8_t* gp = w + g * kGroupBytes;
    prefetch_l2(gp + kStreamPrefetchBytes, kGroupBytes);
    group_row(k, gp, _mm256_load_ps(dx + 8 * g), units + 6 * g, acc[g & 1]);
  }
  if (full < L.n_groups) {
    // The last 1-7 blocks, copied into a zeroed group (zero scales; the activations past the
    // last block are zero too).
    alignas(64) uint8_t tail[192] = {};
    std::memcpy(tail, w + full * kGroupBytes, static_cast<size_t>(L.nb - 8 * full) * kBlockBytes);
    group_row(k, tail, _mm256_load_ps(dx + 8 * full), units + 6 * full, acc[full & 1]);
  }
  *y = _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
}

void matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  const Layout L(n);
  const Constants k;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  for (int r = 0; r < nr; ++r) row_dot(L, k, w + r * ws, xp, y + r);
}

}  // namespace

void install_avx512vbmi_matvec(KernelTable& t) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(TensorType::kQ4_0)];
  k.matvec_x_bytes = x_bytes;
  k.matvec_prepare = prepare_x;
  k.matvec_rows = matvec_rows;
}

}  // namespace plumb::kernels
