// AVX2 (+FMA, F16C) single-token matvec for q4_0, q8_0 and f16 weights: the decode path on CPUs
// without AVX-512.  Per block, q4_0's 16 packed bytes unpack to 32 nibbles in element order (q8_0:
// |w| with w's sign moved onto x), which meet the q8_0 activations directly through VPMADDUBSW;
// the eight blocks of a group are then summed into one vector of 8 block totals (q8_0: VPMADDWD
// and dword sums; q4_0: VPHADDW rounds while the sums fit 16 bits), so the offset term
// (-8 * sum x, precomputed per block), the conversion and the scale FMA happen once per 8 blocks
// instead of once per block.  Each thread reads its rows one after another, prefetching ahead.
//
// Only intrinsics and file-local functions here (see dispatch.h for why).
#include <immintrin.h>

#include <cstring>

#include "gguf/quantize.h"
#include "kernels/dispatch.h"
#include "kernels/x86/prefetch.h"
#include "kernels/x86/simd_math_avx2.h"

namespace plumb::kernels {

namespace {

using gguf::block_q4_0;
using gguf::block_q8_0;

enum class Kind { kQ4_0, kQ8_0 };

template <Kind K>
constexpr size_t kBlockBytes = K == Kind::kQ4_0 ? sizeof(block_q4_0) : sizeof(block_q8_0);
// q4_0 stores w + 8: its blocks need -8 * sum x added; q8_0 is signed already.
template <Kind K>
constexpr int kOffset = K == Kind::kQ4_0 ? 8 : 0;

// Prepared activations: nb blocks of 32 int8 (zeros past nb, rounded up to groups of 8), then
// per group 8 int32 offsets (-8 * sum of each block's activations), then per group 8 float
// scales.
struct Layout {
  int64_t nb, n_groups;
  explicit Layout(int64_t n) : nb(n / 32), n_groups((n / 32 + 7) / 8) {}
  size_t bytes() const { return static_cast<size_t>(n_groups) * (8 * 32 + 32 + 32); }
};

size_t x_bytes(int64_t n) { return Layout(n).bytes(); }

template <Kind K>
void prepare_x(int64_t n, const void* vxq, void* vxp) {
  const Layout L(n);
  const auto* xq = static_cast<const block_q8_0*>(vxq);
  auto* qs = static_cast<uint8_t*>(vxp);
  auto* off = reinterpret_cast<int32_t*>(qs + L.n_groups * 256);
  auto* dx = reinterpret_cast<float*>(qs + L.n_groups * 288);
  for (int64_t b = 0; b < L.n_groups * 8; ++b) {
    if (b < L.nb) {
      std::memcpy(qs + b * 32, xq[b].qs, 32);
      int32_t sum = 0;
      for (int i = 0; i < 32; ++i) sum += xq[b].qs[i];
      off[b] = -kOffset<K> * sum;
      dx[b] = _cvtsh_ss(xq[b].d);
    } else {
      std::memset(qs + b * 32, 0, 32);
      off[b] = 0;
      dx[b] = 0.0f;
    }
  }
}

// The block's stored values times x, as 8 int32 lanes (4 elements each).
template <Kind K>
inline __m256i block_dot(const uint8_t* blk, const uint8_t* x) {
  const __m256i xv = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
  __m256i p16;
  if constexpr (K == Kind::kQ4_0) {
    // The 16 packed bytes in both halves (a broadcast load), the high half shifted right by 4
    // within each dword: after the mask the low half holds the low nibbles (elements 0-15) and
    // the high half the high ones (16-31).  Two operations where splitting the halves and
    // inserting one into the other took four (MatvecHot/q4_0 at the AVX2 level: see
    // docs/kernels.md).
    const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)));
    const __m256i u = _mm256_and_si256(_mm256_srlv_epi32(v, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)),
                                       _mm256_set1_epi8(0x0F));
    p16 = _mm256_maddubs_epi16(u, xv);
  } else {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(xv, w));
  }
  if constexpr (K == Kind::kQ4_0) return p16;  // summed by sum8_i16 (see below)
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

// q4_0: lane j = the sum of block j's sixteen int16 pair products.  Each 128-bit half of p[j]
// sums to at most 8 * 2 * 15 * 128 in magnitude (30720 < 2^15), so three rounds of VPHADDW
// (within halves) leave block j's half-sums in word j of each half, widened and added last:
// 11 operations where VPMADDWD per block and eight dword sums took 17.
inline __m256i sum8_i16(const __m256i (&p)[8]) {
  const __m256i a01 = _mm256_hadd_epi16(p[0], p[1]), a23 = _mm256_hadd_epi16(p[2], p[3]);
  const __m256i a45 = _mm256_hadd_epi16(p[4], p[5]), a67 = _mm256_hadd_epi16(p[6], p[7]);
  const __m256i s = _mm256_hadd_epi16(_mm256_hadd_epi16(a01, a23), _mm256_hadd_epi16(a45, a67));
  return _mm256_add_epi32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(s)),
                          _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s, 1)));
}

// Lane j of the result = the sum of the 8 lanes of p[j].
inline __m256i sum8(const __m256i (&p)[8]) {
  const __m256i a01 = _mm256_hadd_epi32(p[0], p[1]), a23 = _mm256_hadd_epi32(p[2], p[3]);
  const __m256i a45 = _mm256_hadd_epi32(p[4], p[5]), a67 = _mm256_hadd_epi32(p[6], p[7]);
  const __m256i b0 = _mm256_hadd_epi32(a01, a23), b1 = _mm256_hadd_epi32(a45, a67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(b0, b1, 0x20), _mm256_permute2x128_si256(b0, b1, 0x31));
}

// The fp16 scale of block j of a group.
template <Kind K>
inline uint16_t scale_bits(const uint8_t* g, int j) {
  uint16_t h;
  std::memcpy(&h, g + j * kBlockBytes<K>, 2);
  return h;
}

// One group of 8 blocks of one row (8 * kBlockBytes bytes at g).
template <Kind K>
inline __m256 group_row(const uint8_t* g, const uint8_t* x, __m256i off, __m256 dx, __m256 acc) {
  __m256i p[8];
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) p[j] = block_dot<K>(g + j * kBlockBytes<K>, x + j * 32);
  __m128i h = _mm_setzero_si128();
  h = _mm_insert_epi16(h, scale_bits<K>(g, 0), 0);
  h = _mm_insert_epi16(h, scale_bits<K>(g, 1), 1);
  h = _mm_insert_epi16(h, scale_bits<K>(g, 2), 2);
  h = _mm_insert_epi16(h, scale_bits<K>(g, 3), 3);
  h = _mm_insert_epi16(h, scale_bits<K>(g, 4), 4);
  h = _mm_insert_epi16(h, scale_bits<K>(g, 5), 5);
  h = _mm_insert_epi16(h, scale_bits<K>(g, 6), 6);
  h = _mm_insert_epi16(h, scale_bits<K>(g, 7), 7);
  const __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(h), dx);
  const __m256i total = K == Kind::kQ4_0 ? sum8_i16(p) : sum8(p);
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(total, off)), d, acc);
}

// One row, read as one stretch of the thread's linear stream of rows, asking for the bytes
// kStreamPrefetchBytes ahead, as the AVX-512 kernels do.  Rows used to go four at a time,
// sharing the activation loads and prefetching the next four rows' group: in an in-process A/B
// (1B files, 2 threads, each variant token by token at the same positions) one row decoded q4_0
// 4.7-6.6% and q8_0 1.5-3.0% faster, and two rows at a time 15-18% slower than four.
template <Kind K>
float row_dot(const Layout& L, const uint8_t* row, const uint8_t* xp, const StreamAhead& ahead) {
  const auto* off = reinterpret_cast<const __m256i*>(xp + L.n_groups * 256);
  const auto* dx = reinterpret_cast<const float*>(xp + L.n_groups * 288);
  __m256 acc = _mm256_setzero_ps();
  const int64_t full = L.nb / 8;
  for (int64_t g = 0; g < full; ++g) {
    const uint8_t* gp = row + g * 8 * kBlockBytes<K>;
    prefetch_stream(ahead(gp), 8 * kBlockBytes<K>);
    acc = group_row<K>(gp, xp + g * 256, _mm256_load_si256(off + g), _mm256_load_ps(dx + 8 * g), acc);
  }
  if (full < L.n_groups) {
    // The last 1-7 blocks, copied into a zeroed group (zero scales, zero activations past nb).
    alignas(32) uint8_t tail[8 * kBlockBytes<K>] = {};
    std::memcpy(tail, row + full * 8 * kBlockBytes<K>, static_cast<size_t>(L.nb - 8 * full) * kBlockBytes<K>);
    acc = group_row<K>(tail, xp + full * 256, _mm256_load_si256(off + full), _mm256_load_ps(dx + 8 * full), acc);
  }
  return avx2::hsum(acc);
}

template <Kind K>
void matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  const Layout L(n);
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const StreamAhead ahead(w, ws, nr, static_cast<size_t>(L.nb) * kBlockBytes<K>, 8 * kBlockBytes<K>);
  for (int r = 0; r < nr; ++r) y[r] = row_dot<K>(L, w + r * ws, xp, ahead);
}

// Float weights (f16, bf16, f32) x f32 activations, as the AVX-512 float decode kernels: no
// preparation beyond a copy; each thread reads its rows one after another with the stream
// prefetch, 32 columns per step into four accumulators.  (bf16 and f32 went through the
// one-token gemm tile, four rows with the next tile into L2, until stop 19.)
enum class FloatKind { kF16, kBF16, kF32 };

size_t float_x_bytes(int64_t n) { return static_cast<size_t>(n) * sizeof(float); }
void float_prepare_x(int64_t n, const void* x, void* xp) { std::memcpy(xp, x, static_cast<size_t>(n) * sizeof(float)); }

template <FloatKind K>
constexpr size_t kFloatBytes = K == FloatKind::kF32 ? 4 : 2;

// 8 weights widened to f32: from 8 halves (f16 or bf16, whose bits are an f32's top half).
template <FloatKind K>
inline __m256 widen(__m128i h) {
  if constexpr (K == FloatKind::kF16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// Columns [i, i + 32) of a row as four vectors.
template <FloatKind K>
inline void load32(const uint8_t* row, int64_t i, __m256 (&v)[4]) {
  if constexpr (K == FloatKind::kF32) {
    const auto* w = reinterpret_cast<const float*>(row) + i;
    for (int j = 0; j < 4; ++j) v[j] = _mm256_loadu_ps(w + 8 * j);
  } else {
    const auto* w = reinterpret_cast<const uint16_t*>(row) + i;
    const __m256i h0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    const __m256i h1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16));
    v[0] = widen<K>(_mm256_castsi256_si128(h0));
    v[1] = widen<K>(_mm256_extracti128_si256(h0, 1));
    v[2] = widen<K>(_mm256_castsi256_si128(h1));
    v[3] = widen<K>(_mm256_extracti128_si256(h1, 1));
  }
}

template <FloatKind K>
inline float scalar_weight(const uint8_t* row, int64_t i) {
  if constexpr (K == FloatKind::kF32) return reinterpret_cast<const float*>(row)[i];
  const uint16_t h = reinterpret_cast<const uint16_t*>(row)[i];
  if constexpr (K == FloatKind::kF16) return _cvtsh_ss(h);
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

template <FloatKind K>
float float_row(int64_t n, const uint8_t* row, const float* x, const StreamAhead& ahead) {
  constexpr size_t kStep = 32 * kFloatBytes<K>;
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    // The steps are contiguous, so one prefetch per 64 bytes covers every line of the stream.
    const char* next = ahead(row + i * kFloatBytes<K>);
    #pragma GCC unroll 2
    for (size_t l = 0; l < kStep; l += 64) _mm_prefetch(next + l, _MM_HINT_NTA);
    __m256 v[4];
    load32<K>(row, i, v);
    #pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_fmadd_ps(v[j], _mm256_loadu_ps(x + i + 8 * j), acc[j]);
  }
  float tail = 0.0f;
  for (; i < n; ++i) tail += scalar_weight<K>(row, i) * x[i];
  return avx2::hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]))) + tail;
}

template <FloatKind K>
void float_matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* x = static_cast<const float*>(vxp);
  const StreamAhead ahead(w, ws, nr, static_cast<size_t>(n) * kFloatBytes<K>, 32 * kFloatBytes<K>);
  for (int r = 0; r < nr; ++r) y[r] = float_row<K>(n, w + r * ws, x, ahead);
}

void install(KernelTable& t, TensorType type, MatvecBytesFn bytes, MatvecPrepareFn prepare, MatvecRowsFn rows) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(type)];
  k.matvec_x_bytes = bytes;
  k.matvec_prepare = prepare;
  k.matvec_rows = rows;
}

}  // namespace

void install_avx2_matvec(KernelTable& t) {
  install(t, TensorType::kQ4_0, x_bytes, prepare_x<Kind::kQ4_0>, matvec_rows<Kind::kQ4_0>);
  install(t, TensorType::kQ8_0, x_bytes, prepare_x<Kind::kQ8_0>, matvec_rows<Kind::kQ8_0>);
  install(t, TensorType::kF16, float_x_bytes, float_prepare_x, float_matvec_rows<FloatKind::kF16>);
  install(t, TensorType::kBF16, float_x_bytes, float_prepare_x, float_matvec_rows<FloatKind::kBF16>);
  install(t, TensorType::kF32, float_x_bytes, float_prepare_x, float_matvec_rows<FloatKind::kF32>);
}

}  // namespace plumb::kernels
