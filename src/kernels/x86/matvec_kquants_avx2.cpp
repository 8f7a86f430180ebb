// AVX2 (+FMA, F16C) single-token matvec (decode path) for q4_K, q5_K and q6_K weights x Q8_K
// activations, on CPUs without AVX-512.
//
// The Q8_K activations are prepared once per call: per super-block the 256 int8 values (32-byte
// aligned), the int16 terms the zero points need (q4_K/q5_K: bsums summed per 32-element
// sub-block, q6_K: the 16 bsums) and the float scale.  Per row and super-block, the sub-block
// scales are widened to int16 once and each sub-block's copy is one VPSHUFB away, so the
// 32-element steps are VPMADDUBSW (values x activations) + VPMADDWD (x the sub-block scale)
// into one int32 vector; the fifth (q5_K) and the two high (q6_K) bits are moved into place with
// one 16-bit shift and one mask per 32 values.  One conversion and one or two FMAs per
// super-block finish it.  Each thread reads its rows one after another and prefetches 8 KB
// ahead into L2 (rows of a few KB are too short for the hardware prefetcher).  Every row takes
// the same path, so results do not depend on the thread count.
//
// Only intrinsics and file-local functions here (see dispatch.h for why).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <cstring>

#include "kernels/dispatch.h"
#include "kernels/kquants.h"
#include "kernels/x86/prefetch.h"
#include "kernels/x86/simd_math_avx2.h"

namespace plumb::kernels {

namespace {

enum class Kind { kQ4_K, kQ5_K, kQ6_K };

template <Kind K>
constexpr size_t kBlockBytes = K == Kind::kQ4_K   ? sizeof(block_q4_K)
                               : K == Kind::kQ5_K ? sizeof(block_q5_K)
                                                  : sizeof(block_q6_K);

// Prepared activations, per super-block: 256 int8 values, 16 int16 zero-point terms, the float
// scale, padding to 320 bytes (a multiple of 32, so the values stay aligned).
constexpr size_t kXValues = 0;
constexpr size_t kXSums = 256;
constexpr size_t kXScale = 288;
constexpr size_t kXBlockBytes = 320;

size_t x_bytes(int64_t n) { return static_cast<size_t>(n / kQK_K) * kXBlockBytes; }

template <Kind K>
void prepare_x(int64_t n, const void* vxq, void* vxp) {
  const auto* xq = static_cast<const block_q8_K*>(vxq);
  auto* out = static_cast<uint8_t*>(vxp);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t* e = out + i * kXBlockBytes;
    std::memcpy(e + kXValues, xq[i].qs, kQK_K);
    int16_t sums[16] = {};
    if constexpr (K == Kind::kQ6_K) {
      std::memcpy(sums, xq[i].bsums, sizeof(sums));
    } else {
      // |bsum| <= 16 * 128, so a pair fits int16.
      for (int j = 0; j < 8; ++j) sums[j] = static_cast<int16_t>(xq[i].bsums[2 * j] + xq[i].bsums[2 * j + 1]);
    }
    std::memcpy(e + kXSums, sums, sizeof(sums));
    std::memcpy(e + kXScale, &xq[i].d, sizeof(float));
  }
}

// VPSHUFB controls: select[j] widens byte j of each 128-bit half to every int16 lane of the half.
struct SelectTable {
  alignas(32) uint8_t select[8][32];
};
constexpr SelectTable make_select_table() {
  SelectTable t{};
  for (int j = 0; j < 8; ++j)
    for (int k = 0; k < 32; ++k) t.select[j][k] = k % 2 == 0 ? static_cast<uint8_t>(j) : 0x80;
  return t;
}
constexpr SelectTable kWiden = make_select_table();

// q6_K: int16 lane 2g to the low 128-bit half, lane 2g + 1 to the high half (a 32-value group
// spans two 16-value sub-blocks).
alignas(32) constexpr uint8_t kSelectPair[4][32] = {
    {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3},
    {4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7},
    {8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11},
    {12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13,
     14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15},
};

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m256i load32a(const uint8_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }

// Shifts every 16-bit lane left by S (right by -S).  Used with a mask that keeps, in every byte,
// bits that came from the same byte.
template <int S>
inline __m256i shift16(__m256i v) {
  if constexpr (S > 0) return _mm256_slli_epi16(v, S);
  if constexpr (S < 0) return _mm256_srli_epi16(v, -S);
  return v;
}

// q4_K / q5_K: elements 64c .. 64c + 63 (sub-blocks 2c and 2c + 1) times the sub-block scales.
template <bool kFive, int C>
inline __m256i chunk_q45(const uint8_t* qs, __m256i qh, const uint8_t* x, __m256i scales) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i q = load32(qs + 32 * C);
  __m256i lo = _mm256_and_si256(q, m4);
  __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
  if constexpr (kFive) {
    // qh bit 2c is the fifth bit of the low-nibble value, bit 2c + 1 that of the high one.
    const __m256i m16 = _mm256_set1_epi8(0x10);
    lo = _mm256_or_si256(lo, _mm256_and_si256(shift16<4 - 2 * C>(qh), m16));
    hi = _mm256_or_si256(hi, _mm256_and_si256(shift16<3 - 2 * C>(qh), m16));
  }
  const __m256i s_lo = _mm256_shuffle_epi8(scales, load32a(kWiden.select[2 * C]));
  const __m256i s_hi = _mm256_shuffle_epi8(scales, load32a(kWiden.select[2 * C + 1]));
  const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load32a(x + 64 * C)), s_lo);
  const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load32a(x + 64 * C + 32)), s_hi);
  return _mm256_add_epi32(p_lo, p_hi);
}

template <Kind K>
inline __m256 block_q45(const uint8_t* blk, const uint8_t* x, __m128 xd, __m256 acc) {
  constexpr bool kFive = K == Kind::kQ5_K;
  const uint8_t* qs =
      kFive ? reinterpret_cast<const block_q5_K*>(blk)->qs : reinterpret_cast<const block_q4_K*>(blk)->qs;
  // The 6-bit scales (bytes 0-7) and mins (bytes 8-15), decoded as avx2::unpack_k4_scales does but
  // in one vector (dwords u0..u2 of scales[12]; the 16-byte load ends inside qs):
  //   sc_lo = u0 & 0x3f, sc_hi = (u2 & 0x0f) | ((u0 >> 2) & 0x30),
  //   m_lo  = u1 & 0x3f, m_hi  = ((u2 >> 4) & 0x0f) | ((u1 >> 2) & 0x30)   (per byte).
  const __m128i u = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 4));
  const __m128i u0u2u1u2 = _mm_shuffle_epi32(u, _MM_SHUFFLE(2, 1, 2, 0));
  const __m128i low = _mm_and_si128(_mm_srlv_epi32(u0u2u1u2, _mm_setr_epi32(0, 0, 0, 4)),
                                    _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
  const __m128i top = _mm_and_si128(_mm_srli_epi32(_mm_shuffle_epi32(u, _MM_SHUFFLE(1, 1, 0, 0)), 2),
                                    _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
  const __m128i sm = _mm_or_si128(low, top);
  const __m256i scales = _mm256_broadcastsi128_si256(sm);
  const __m128i mins = _mm_unpackhi_epi8(sm, _mm_setzero_si128());
  __m256i qh = _mm256_setzero_si256();
  if constexpr (kFive) qh = load32(reinterpret_cast<const block_q5_K*>(blk)->qh);
  __m256i sumi = chunk_q45<kFive, 0>(qs, qh, x, scales);
  sumi = _mm256_add_epi32(sumi, chunk_q45<kFive, 1>(qs, qh, x, scales));
  sumi = _mm256_add_epi32(sumi, chunk_q45<kFive, 2>(qs, qh, x, scales));
  sumi = _mm256_add_epi32(sumi, chunk_q45<kFive, 3>(qs, qh, x, scales));
  const __m128i msum = _mm_madd_epi16(mins, _mm_load_si128(reinterpret_cast<const __m128i*>(x + kXSums)));
  // {d, dmin} x the activation scale, converted together.
  int32_t d_dmin;
  std::memcpy(&d_dmin, blk, 4);
  const __m128 dd = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(d_dmin)), xd);
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_broadcastss_ps(dd), acc);
  return _mm256_fnmadd_ps(_mm256_zextps128_ps256(_mm_cvtepi32_ps(msum)), _mm256_broadcastss_ps(_mm_movehdup_ps(dd)),
                          acc);
}

// q6_K: 32 elements 128h + 32g: 4 low bits from ql, 2 high bits from qh moved to bits 4-5.
template <int G>
inline __m256i group_q6(__m256i ql0, __m256i ql1, __m256i qh, const uint8_t* x, __m256i scales) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i m2 = _mm256_set1_epi8(0x30);
  const __m256i low = G == 0   ? _mm256_and_si256(ql0, m4)
                      : G == 1 ? _mm256_and_si256(ql1, m4)
                      : G == 2 ? _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4)
                               : _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4);
  const __m256i high = _mm256_and_si256(shift16<4 - 2 * G>(qh), m2);
  const __m256i q = _mm256_or_si256(low, high);
  const __m256i s = _mm256_shuffle_epi8(scales, load32a(kSelectPair[G]));
  return _mm256_madd_epi16(_mm256_maddubs_epi16(q, load32a(x + 32 * G)), s);
}

inline __m256 block_q6(const uint8_t* blk, const uint8_t* x, __m128 xd, __m256 acc) {
  const auto* b = reinterpret_cast<const block_q6_K*>(blk);
  const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b->scales)));
  // Values are stored + 32: start from -32 * sum_k scale[k] * bsums[k].
  __m256i sumi =
      _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(sc16, load32a(x + kXSums)), 5));
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    const __m256i scales = h == 0 ? _mm256_permute4x64_epi64(sc16, 0x44) : _mm256_permute4x64_epi64(sc16, 0xEE);
    const __m256i ql0 = load32(b->ql + 64 * h);
    const __m256i ql1 = load32(b->ql + 64 * h + 32);
    const __m256i qh = load32(b->qh + 32 * h);
    const uint8_t* xh = x + 128 * h;
    sumi = _mm256_add_epi32(sumi, group_q6<0>(ql0, ql1, qh, xh, scales));
    sumi = _mm256_add_epi32(sumi, group_q6<1>(ql0, ql1, qh, xh, scales));
    sumi = _mm256_add_epi32(sumi, group_q6<2>(ql0, ql1, qh, xh, scales));
    sumi = _mm256_add_epi32(sumi, group_q6<3>(ql0, ql1, qh, xh, scales));
  }
  const __m128 d = _mm_mul_ss(_mm_cvtph_ps(_mm_cvtsi32_si128(b->d)), xd);
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_broadcastss_ps(d), acc);
}

// One row, read as one stretch of the thread's linear stream of rows, asking for the bytes
// kStreamPrefetchBytes ahead (as matvec_avx2.cpp and the AVX-512 kernels).  Four rows at a time,
// prefetching the next four rows' super-block, decoded Q4_K_M 6.4-6.6% slower in an in-process
// A/B (1B file, 2 threads, each variant token by token at the same positions).
template <Kind K>
float row_dot(int64_t nb, const uint8_t* row, const uint8_t* xp, const StreamAhead& ahead) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* x = xp + i * kXBlockBytes;
    const __m128 xd = _mm_broadcast_ss(reinterpret_cast<const float*>(x + kXScale));
    const uint8_t* blk = row + i * kBlockBytes<K>;
    prefetch_stream(ahead(blk), kBlockBytes<K>);
    if constexpr (K == Kind::kQ6_K) {
      acc = block_q6(blk, x, xd, acc);
    } else {
      acc = block_q45<K>(blk, x, xd, acc);
    }
  }
  return avx2::hsum(acc);
}

template <Kind K>
void matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  const int64_t nb = n / kQK_K;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const StreamAhead ahead(w, ws, nr, static_cast<size_t>(nb) * kBlockBytes<K>, kBlockBytes<K>);
  for (int r = 0; r < nr; ++r) y[r] = row_dot<K>(nb, w + r * ws, xp, ahead);
}

template <Kind K>
void install(KernelTable& t, TensorType type) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(type)];
  k.matvec_x_bytes = x_bytes;
  k.matvec_prepare = prepare_x<K>;
  k.matvec_rows = matvec_rows<K>;
}

}  // namespace

void install_avx2_kquant_matvec(KernelTable& t) {
  install<Kind::kQ4_K>(t, TensorType::kQ4_K);
  install<Kind::kQ5_K>(t, TensorType::kQ5_K);
  install<Kind::kQ6_K>(t, TensorType::kQ6_K);
}

}  // namespace plumb::kernels
