// AVX-512 (VNNI) single-token matvec for q4_0, q8_0 and float (f16, bf16, f32) weights: the
// decode path, where every weight byte is read once per token and the kernel must keep up with
// memory.  (Until stop 19, CPUs with AVX512_VBMI decoded q4_0 with a kernel that gathered 8
// blocks' nibbles with byte permutes: 70 against 44 GB/s from cache for the pair kernel of
// those days, but from memory it lost — one thread 29-30 against 36-39 GB/s, whole-model 1B q4_0
// 72-83 against 87-96 tok/s on Zen 5 with fast memory — so it was removed; its mxfp4 twin,
// matvec_mxfp4_avx512vbmi.cpp, stays.)
//
// What the GEMM tiles redo for every group of rows is done once per call here (prepare_x):
// the activations are laid out in the weights' lane order, their per-lane offset term is
// precomputed, and their block scales are converted to floats.  Per weight row, eight block
// scales come out of two 64-byte loads and one word permute (no scalar fp16 conversions, no
// round trip through the stack); for q8_0 each pair of blocks then costs one VPDPBUSD, one
// conversion, one scale permute and one FMA, and q4_0 goes four blocks per vector (quad_row).  Each row's arithmetic is the same whatever the number of
// rows per call, so results do not depend on how rows are split between threads; each thread
// reads its rows one after another, as one linear stream (see q8_0_row).
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

// q8_0's prepared activations for n = 32 * nb columns, pairs of blocks p = 0 .. ceil(nb / 2) - 1:
//   x[p]   64 bytes: the pair's 64 activations, block b0's then b1's (zeros past nb);
//   off[p] 16 int32: -128 * (sum of the four activations of each lane), since the weights are
//          read as w + 128 in unsigned bytes, so that VPDPBUSD started from off[p] yields
//          sum w * x per lane;
//   dx[g]  8 floats per group of 8 blocks: the activation scales (zeros past nb).
struct Layout {
  int64_t nb, n_pairs, n_groups;
  explicit Layout(int64_t n) : nb(n / 32), n_pairs((n / 32 + 1) / 2), n_groups((n / 32 + 7) / 8) {}
  size_t bytes() const { return static_cast<size_t>(n_pairs) * 128 + static_cast<size_t>(n_groups) * 32; }
};

// q8_0: 34-byte blocks {fp16 d, 32 signed bytes}, read as w + 128 in unsigned bytes.  A pair
// is lanes [b0, b0, b1, b1] in element order.
struct Q8_0 {
  static constexpr size_t kBlockBytes = 34;
  static __m512i scale_index(int k) {
    const __m512i lane = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_add_epi32(lane, _mm512_set1_epi32(2 * k));
  }
  static __m512i load_pair(const uint8_t* b0, const uint8_t* b1) {
    const __m512i w = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0 + 2))),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b1 + 2)), 1);
    return _mm512_xor_si512(w, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
  // 8 blocks span 272 bytes: blocks 0-3 are words 0, 17, 34, 51 from byte 0, blocks 4-7 the
  // same words from byte 136.
  static __m128i scales8(const uint8_t* g) {
    const __m512i idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                         0, 0, 0, 51, 34, 17, 0);
    const __m512i lo = _mm512_permutex2var_epi16(_mm512_loadu_si512(g), idx, _mm512_loadu_si512(g + 64));
    const __m512i hi = _mm512_permutex2var_epi16(_mm512_loadu_si512(g + 136), idx, _mm512_loadu_si512(g + 200));
    return _mm_unpacklo_epi64(_mm512_castsi512_si128(lo), _mm512_castsi512_si128(hi));
  }
};

size_t q8_0_x_bytes(int64_t n) { return Layout(n).bytes(); }

void q8_0_prepare_x(int64_t n, const void* vxq, void* vxp) {
  const Layout L(n);
  const auto* xq = static_cast<const block_q8_0*>(vxq);
  auto* out = static_cast<uint8_t*>(vxp);
  auto* off = reinterpret_cast<__m512i*>(out + L.n_pairs * 64);
  auto* dx = reinterpret_cast<float*>(out + L.n_pairs * 128);
  static const int8_t kZeros[32] = {};
  const __m512i c = _mm512_set1_epi8(static_cast<char>(128));
  for (int64_t p = 0; p < L.n_pairs; ++p) {
    const int64_t b0 = 2 * p, b1 = 2 * p + 1;
    auto* xp = reinterpret_cast<int8_t*>(out + p * 64);
    std::memcpy(xp, xq[b0].qs, 32);
    std::memcpy(xp + 32, b1 < L.nb ? xq[b1].qs : kZeros, 32);
    const __m512i xv = _mm512_load_si512(xp);
    off[p] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), c, xv));
  }
  for (int64_t b = 0; b < L.n_groups * 8; ++b) dx[b] = b < L.nb ? _cvtsh_ss(xq[b].d) : 0.0f;
}

// One row, read as one stretch of the thread's linear stream of rows.  Rows used to be read
// four at a time, sharing each pair's activation loads: faster hot-cache (q8_0 MatvecHot 39-45
// against 37-39 GB/s) and, on one day's VM, faster decoding; on another, interleaving even two
// row streams halved what memory delivered (kernels_bench Matvec/q8_0, 2048 x 8192, one thread:
// 12.6-13.0 GB/s against 16.5 for one row; 8192 x 2048: 7.7-7.8 against 17.6-19.3), while one
// stream per thread held up in both.  Every row takes the same path, so results do not depend
// on how rows are split between threads.
float q8_0_row(const Layout& L, const __m512i (&idx)[4], const uint8_t* row, const uint8_t* xp,
               const StreamAhead& ahead) {
  using T = Q8_0;
  constexpr size_t kB = T::kBlockBytes;
  const auto* xv = reinterpret_cast<const __m512i*>(xp);
  const auto* off = xv + L.n_pairs;
  const auto* dx = reinterpret_cast<const float*>(xp + L.n_pairs * 128);
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  const int64_t full = L.nb / 8;
  for (int64_t g = 0; g < full; ++g) {
    const uint8_t* group = row + g * 8 * kB;
    prefetch_stream(ahead(group), 8 * kB);
    const __m256 d8 = _mm256_mul_ps(_mm256_cvtph_ps(T::scales8(group)), _mm256_load_ps(dx + 8 * g));
    const __m512 d = _mm512_castps256_ps512(d8);
    #pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const int64_t p = 4 * g + k;
      const uint8_t* b0 = group + 2 * k * kB;
      const __m512i s =
          _mm512_dpbusd_epi32(_mm512_load_si512(off + p), T::load_pair(b0, b0 + kB), _mm512_load_si512(xv + p));
      acc[k & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(idx[k], d), acc[k & 1]);
    }
  }
  if (full * 8 < L.nb) {
    // The last 1-7 blocks: scales one by one; an odd last block pairs with itself, its second
    // copy meeting zero activations.
    const int64_t g = full;
    alignas(32) float ds[8] = {};
    for (int64_t b = 8 * g; b < L.nb; ++b) {
      uint16_t h;
      std::memcpy(&h, row + b * kB, 2);
      ds[b - 8 * g] = _cvtsh_ss(h) * dx[b];
    }
    const __m512 d = _mm512_castps256_ps512(_mm256_load_ps(ds));
    for (int k = 0; 8 * g + 2 * k < L.nb; ++k) {
      const int64_t p = 4 * g + k;
      const int64_t second = 2 * p + 1 < L.nb ? 1 : 0;
      const uint8_t* b0 = row + 2 * p * kB;
      const __m512i s = _mm512_dpbusd_epi32(_mm512_load_si512(off + p), T::load_pair(b0, b0 + second * kB),
                                            _mm512_load_si512(xv + p));
      acc[k & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(idx[k], d), acc[k & 1]);
    }
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
}

void q8_0_matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  using T = Q8_0;
  const Layout L(n);
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const __m512i idx[4] = {T::scale_index(0), T::scale_index(1), T::scale_index(2), T::scale_index(3)};
  const StreamAhead ahead(w, ws, nr, static_cast<size_t>(L.nb) * T::kBlockBytes, 8 * T::kBlockBytes);
  for (int r = 0; r < nr; ++r) y[r] = q8_0_row(L, idx, w + r * ws, xp, ahead);
}

// q4_0: 18-byte blocks {fp16 d, 16 bytes: element j in the low nibble of byte j, element j + 16
// in the high nibble}, read in groups of 8 blocks (144 bytes), four blocks per vector: one
// 128-bit lane per block (four 16-byte loads), low and high nibbles against two vectors of
// prepared activations, so a group costs four VPDPBUSD, two conversions, two scale permutes and
// two FMAs.  It replaced a kernel of pairs (one 256-bit half per pair, one conversion, permute
// and FMA per pair): MatvecHot/q4_0 41-42 → 52 GB/s, one thread from memory 33.7-35.7 →
// 34.1-36.3, and whole-model 1B q4_0 decoding 80.5-81.3 → 84.1 tok/s with fast memory and +2-3.5%
// at 47-53 GB/s (stop 19).
//
// Prepared per group of 8 blocks (448 bytes):
//   x[0], x[1]  lanes k = 0-3: block 8g + k's elements 0-15, then 16-31;
//   x[2], x[3]  the same for blocks 8g + 4 + k;
//   off[0..1]   16 int32 each: -8 * (the activations each dword lane meets in x[2h], x[2h + 1]);
//   dx          8 floats (zeros past nb), then 32 bytes of padding.
constexpr size_t kQuadGroupBytes = 448;

size_t quad_x_bytes(int64_t n) { return static_cast<size_t>((n / 32 + 7) / 8) * kQuadGroupBytes; }

void quad_prepare_x(int64_t n, const void* vxq, void* vxp) {
  const int64_t nb = n / 32, n_groups = (nb + 7) / 8;
  const auto* xq = static_cast<const block_q8_0*>(vxq);
  auto* out = static_cast<uint8_t*>(vxp);
  const __m512i eight = _mm512_set1_epi8(8);
  for (int64_t g = 0; g < n_groups; ++g) {
    uint8_t* x = out + g * kQuadGroupBytes;
    std::memset(x, 0, kQuadGroupBytes);
    auto* dx = reinterpret_cast<float*>(x + 384);
    for (int b = 0; b < 8; ++b) {
      const int64_t blk = 8 * g + b;
      if (blk >= nb) continue;
      const int h = b / 4, k = b % 4;
      std::memcpy(x + 128 * h + 16 * k, xq[blk].qs, 16);
      std::memcpy(x + 128 * h + 64 + 16 * k, xq[blk].qs + 16, 16);
      dx[b] = _cvtsh_ss(xq[blk].d);
    }
    for (int h = 0; h < 2; ++h) {
      __m512i t = _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, _mm512_load_si512(x + 128 * h));
      t = _mm512_dpbusd_epi32(t, eight, _mm512_load_si512(x + 128 * h + 64));
      _mm512_store_si512(x + 256 + 64 * h, _mm512_sub_epi32(_mm512_setzero_si512(), t));
    }
  }
}

// The fp16 scales of 8 consecutive blocks (144 bytes): words 0, 9, ..., 63 of the first 128.
inline __m128i q4_0_scales8(const uint8_t* g) {
  const __m512i idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       63, 54, 45, 36, 27, 18, 9, 0);
  return _mm512_castsi512_si128(_mm512_permutex2var_epi16(_mm512_loadu_si512(g), idx, _mm512_loadu_si512(g + 64)));
}

// Packed bytes of blocks b, b + 1, b + 2, b + 3 (b points at the first one's qs), one per lane.
inline __m512i quad_load(const uint8_t* b) {
  __m512i q = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
  q = _mm512_inserti32x4(q, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 18)), 1);
  q = _mm512_inserti32x4(q, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 36)), 2);
  return _mm512_inserti32x4(q, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 54)), 3);
}

inline void quad_group(const uint8_t* gp, const uint8_t* x, const __m512i (&idx)[2], __m512& acc0, __m512& acc1) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m256 d8 = _mm256_mul_ps(_mm256_cvtph_ps(q4_0_scales8(gp)),
                                  _mm256_load_ps(reinterpret_cast<const float*>(x + 384)));
  const __m512 d = _mm512_castps256_ps512(d8);
  #pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    const __m512i q = quad_load(gp + 72 * h + 2);
    __m512i s = _mm512_load_si512(x + 256 + 64 * h);
    s = _mm512_dpbusd_epi32(s, _mm512_and_si512(q, m4), _mm512_load_si512(x + 128 * h));
    s = _mm512_dpbusd_epi32(s, _mm512_and_si512(_mm512_srli_epi16(q, 4), m4), _mm512_load_si512(x + 128 * h + 64));
    __m512& acc = h == 0 ? acc0 : acc1;
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(idx[h], d), acc);
  }
}

float quad_row(int64_t nb, const uint8_t* row, const uint8_t* xp, const __m512i (&idx)[2], const StreamAhead& ahead) {
  constexpr size_t kGroup = 144;
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  const int64_t full = nb / 8;
  for (int64_t g = 0; g < full; ++g) {
    const uint8_t* gp = row + g * kGroup;
    prefetch_stream(ahead(gp), kGroup);
    quad_group(gp, xp + g * kQuadGroupBytes, idx, acc0, acc1);
  }
  if (full * 8 < nb) {
    alignas(64) uint8_t tail[kGroup] = {};
    std::memcpy(tail, row + full * kGroup, static_cast<size_t>(nb - 8 * full) * 18);
    quad_group(tail, xp + full * kQuadGroupBytes, idx, acc0, acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

void quad_matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  const int64_t nb = n / 32;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  // Lanes 4k .. 4k + 3 take the scale of block 4h + k.
  const __m512i idx[2] = {_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
                          _mm512_set_epi32(7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4)};
  const StreamAhead ahead(w, ws, nr, static_cast<size_t>(nb) * 18, 144);
  for (int r = 0; r < nr; ++r) y[r] = quad_row(nb, w + r * ws, xp, idx, ahead);
}

// Float weights (f16, bf16, f32) x f32 activations: no preparation beyond a copy.  Each thread
// reads its rows one after another as one stream with the stream prefetch, 64 columns per step
// into four accumulators, then 16-column steps, the last one masked.  For f16 it replaced eight
// interleaved rows that prefetched the next eight rows into L2: whole-model f16 decode (1B, 2
// threads, in-process A/B) went from 0.68 to 0.91 of the probe with fast memory and from 0.90
// to 1.19 (a probe that moved) with slow; one thread streaming from memory, 0.75 to 0.93.  bf16
// and f32 went through the one-token gemm tile (four rows, next tile into L2) until stop 19.
enum class FloatKind { kF16, kBF16, kF32 };

size_t float_x_bytes(int64_t n) { return static_cast<size_t>(n) * sizeof(float); }
void float_prepare_x(int64_t n, const void* x, void* xp) { std::memcpy(xp, x, static_cast<size_t>(n) * sizeof(float)); }

template <FloatKind K>
constexpr size_t kFloatBytes = K == FloatKind::kF32 ? 4 : 2;

// 16 weights widened to f32: from 16 halves (f16 or bf16, whose bits are an f32's top half).
template <FloatKind K>
inline __m512 widen(__m256i h) {
  if constexpr (K == FloatKind::kF16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// Columns [i, i + 64) of a row as four vectors.
template <FloatKind K>
inline void load64(const uint8_t* row, int64_t i, __m512 (&v)[4]) {
  if constexpr (K == FloatKind::kF32) {
    const auto* w = reinterpret_cast<const float*>(row) + i;
    for (int j = 0; j < 4; ++j) v[j] = _mm512_loadu_ps(w + 16 * j);
  } else {
    const auto* w = reinterpret_cast<const uint16_t*>(row) + i;
    const __m512i h0 = _mm512_loadu_si512(w), h1 = _mm512_loadu_si512(w + 32);
    v[0] = widen<K>(_mm512_castsi512_si256(h0));
    v[1] = widen<K>(_mm512_extracti64x4_epi64(h0, 1));
    v[2] = widen<K>(_mm512_castsi512_si256(h1));
    v[3] = widen<K>(_mm512_extracti64x4_epi64(h1, 1));
  }
}

// Columns [i, i + 16) under mask m (zeros elsewhere).
template <FloatKind K>
inline __m512 load16_masked(const uint8_t* row, int64_t i, __mmask16 m) {
  if constexpr (K == FloatKind::kF32) return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + i);
  return widen<K>(_mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + i));
}

template <FloatKind K>
float float_row(int64_t n, const uint8_t* row, const float* x, const StreamAhead& ahead) {
  constexpr size_t kStep = 64 * kFloatBytes<K>;
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    // The steps are contiguous, so one prefetch per 64 bytes covers every line of the stream.
    const char* next = ahead(row + i * kFloatBytes<K>);
    #pragma GCC unroll 4
    for (size_t l = 0; l < kStep; l += 64) _mm_prefetch(next + l, _MM_HINT_NTA);
    __m512 v[4];
    load64<K>(row, i, v);
    #pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) acc[j] = _mm512_fmadd_ps(v[j], _mm512_loadu_ps(x + i + 16 * j), acc[j]);
  }
  for (int k = 0; i < n; i += 16, k = (k + 1) % 4) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    acc[k] = _mm512_fmadd_ps(load16_masked<K>(row, i, m), _mm512_maskz_loadu_ps(m, x + i), acc[k]);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

template <FloatKind K>
void float_matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* x = static_cast<const float*>(vxp);
  const StreamAhead ahead(w, ws, nr, static_cast<size_t>(n) * kFloatBytes<K>, 64 * kFloatBytes<K>);
  for (int r = 0; r < nr; ++r) y[r] = float_row<K>(n, w + r * ws, x, ahead);
}

void install(KernelTable& t, TensorType type, MatvecBytesFn bytes, MatvecPrepareFn prepare, MatvecRowsFn rows) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(type)];
  k.matvec_x_bytes = bytes;
  k.matvec_prepare = prepare;
  k.matvec_rows = rows;
}

}  // namespace

void install_avx512_matvec(KernelTable& t) {
  install(t, TensorType::kQ4_0, quad_x_bytes, quad_prepare_x, quad_matvec_rows);
  install(t, TensorType::kQ8_0, q8_0_x_bytes, q8_0_prepare_x, q8_0_matvec_rows);
  install(t, TensorType::kF16, float_x_bytes, float_prepare_x, float_matvec_rows<FloatKind::kF16>);
  install(t, TensorType::kBF16, float_x_bytes, float_prepare_x, float_matvec_rows<FloatKind::kBF16>);
  install(t, TensorType::kF32, float_x_bytes, float_prepare_x, float_matvec_rows<FloatKind::kF32>);
}

}  // namespace plumb::kernels
