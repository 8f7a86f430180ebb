// AVX-512 (VNNI) single-token matvec for q4_K, q5_K and q6_K weights: the decode path, where
// every weight byte is read once per token and the kernel has to keep up with memory.
//
// Each thread reads its rows one after another, as one linear stream, asking for the bytes
// 12 KB ahead (StreamAhead, prefetch.h), the way the q4_0 and q8_0 kernels read theirs.  Per
// super-block, the 128 bytes of qs become four 64-lane vectors of 4-bit values (q5_K adds the
// fifth bit with a byte-masked add; q6_K merges its two high bits with a shift, an AND and a
// ternlog), and the activations were laid out once per call (prepare) in exactly those lanes.
// Four VPDPBUSD give per-lane sums of four products; these fit in 16 bits, so two VPACKSSDW
// fold the four vectors into two of words, and two VPDPWSSD apply the sub-block scales (one
// word permute each).  One conversion and one FMA with d * dx finish the super-block; q4_K's
// mins take one 128-bit VPMADDWD against prepared sub-block sums of the activations, q6_K's
// "-32" one more VPDPWSSD against the negated bsums.
//
// These kernels used to read four rows at a time, sharing each super-block's activation loads
// and decoding four rows' scales in one vector (and q6_K went through the one-token gemm tile,
// also four rows).  That computes faster from cache (MatvecHot q4_K 62-64 against 50-52 GB/s),
// but four interleaved streams per thread are what memory serves worst: on Zen 5 (2026-11-26,
// stop 19), one row at a time read 2048 x 8192 q4_K from memory at 37-38 against 22-29 GB/s
// on one thread and 47-59 against 26-37 on two, and q6_K at 33-37 against 23-34 and 41-59
// against 31-53; the 1B Q4_K_M file decoded 74.3-76.7 against 66.2-73.1 tok/s.  q6_K's one row
// is also faster from cache than the tile was (69-71 against 58-60 GB/s).  Every row takes the
// same path, so results do not depend on how rows are split between threads.
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

namespace plumb::kernels {

namespace {

// 64-byte constant vectors, built at compile time.
struct alignas(64) Table {
  uint8_t b[64];
};
template <typename F>
constexpr Table bytes64(F f) {
  Table t{};
  for (int i = 0; i < 64; ++i) t.b[i] = static_cast<uint8_t>(f(i));
  return t;
}
template <typename F>
constexpr Table words32(F f) {
  Table t{};
  for (int i = 0; i < 32; ++i) {
    const auto v = static_cast<uint16_t>(f(i));
    t.b[2 * i] = static_cast<uint8_t>(v & 0xFF);
    t.b[2 * i + 1] = static_cast<uint8_t>(v >> 8);
  }
  return t;
}
inline __m512i load(const Table& t) { return _mm512_load_si512(t.b); }

// ---------------------------------------------------------------------------------------------
// q4_K and q5_K
//
// Scale decoding: bytes 0-1 d, 2-3 dmin, 4-15 the packed scales q[0..11] of one super-block.
// Decoded: bytes 0-7 the scales of sub-blocks 0-7, bytes 8-15 their mins, where
//   j < 4:  sc = q[j] & 63,                            m = q[j + 4] & 63;
//   j >= 4: sc = (q[j + 4] & 15) | (q[j - 4] >> 6) << 4, m = (q[j + 4] >> 4) | (q[j] >> 6) << 4.
alignas(16) constexpr uint8_t kShufA[16] = {4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15};
alignas(16) constexpr uint8_t kShufB[16] = {0x80, 0x80, 0x80, 0x80, 4, 5, 6, 7, 0x80, 0x80, 0x80, 0x80, 8, 9, 10, 11};
alignas(16) constexpr uint8_t kMaskA[16] = {63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15};
inline __m128i load16(const uint8_t* t) { return _mm_load_si128(reinterpret_cast<const __m128i*>(t)); }

// q5_K: qh[l] bit j is the fifth bit of element 32j + l.  Vector 2h + s covers sub-blocks
// 4h + s (lanes 0-31) and 4h + s + 2 (lanes 32-63).
constexpr Table hbit_mask(int v) {
  return bytes64([=](int i) { return 1 << (4 * (v / 2) + v % 2 + (i < 32 ? 0 : 2)); });
}
constexpr Table kHighBit[4] = {hbit_mask(0), hbit_mask(1), hbit_mask(2), hbit_mask(3)};

// Prepared activations, per super-block (kSuperBlockBytes):
//   [0, 256)    the 256 activations in the weights' lane order: vector 2h + s (h: which 64
//               bytes of qs, s: low/high nibble) holds elements 128h + 32s + [0, 32), then
//               128h + 64 + 32s + [0, 32);
//   [256, 272)  8 int16: the sum of sub-block j's 32 activations;
//   [272, 276)  the activation scale.
constexpr size_t kSuperBlockBytes = 320;

size_t x_bytes(int64_t n) { return static_cast<size_t>(n / kQK_K) * kSuperBlockBytes; }

void prepare(int64_t n, const void* vxq, void* vxp) {
  const auto* xq = static_cast<const block_q8_K*>(vxq);
  auto* out = static_cast<uint8_t*>(vxp);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t* g = out + i * kSuperBlockBytes;
    auto* xs = reinterpret_cast<int8_t*>(g);
    const int8_t* q = xq[i].qs;
    for (int h = 0; h < 2; ++h) {
      for (int s = 0; s < 2; ++s) {
        std::memcpy(xs + 128 * h + 64 * s, q + 128 * h + 32 * s, 32);
        std::memcpy(xs + 128 * h + 64 * s + 32, q + 128 * h + 64 + 32 * s, 32);
      }
    }
    auto* sums = reinterpret_cast<int16_t*>(g + 256);
    for (int j = 0; j < 8; ++j) sums[j] = static_cast<int16_t>(xq[i].bsums[2 * j] + xq[i].bsums[2 * j + 1]);
    std::memcpy(g + 272, &xq[i].d, sizeof(float));
  }
}

// Word 8c + k of VPACKSSDW(p[2h], p[2h + 1]) (per 128-bit lane c, words 0-3 from the
// low-nibble vector, 4-7 from the high-nibble one): sub-block 4h + (c < 2 ? 0 : 2) + k / 4.
constexpr Table scale_index(int half) {
  return words32([=](int i) { return 4 * half + (i / 8 < 2 ? 0 : 2) + (i % 8) / 4; });
}
constexpr Table kScaleIndex[2] = {scale_index(0), scale_index(1)};

struct Consts {
  __m512i m4 = _mm512_set1_epi8(0x0F);
  __m128i shuf_a = load16(kShufA), shuf_b = load16(kShufB), mask_a = load16(kMaskA);
  __m128i m30 = _mm_set1_epi8(0x30);
  __m512i idx_s[2] = {load(kScaleIndex[0]), load(kScaleIndex[1])};
  __m512i hbit[4] = {load(kHighBit[0]), load(kHighBit[1]), load(kHighBit[2]), load(kHighBit[3])};
};

template <bool kFive>
float row_dot(int64_t nb, const Consts& C, const uint8_t* row, const uint8_t* xp, const StreamAhead& ahead) {
  constexpr size_t kB = kFive ? sizeof(block_q5_K) : sizeof(block_q4_K);
  constexpr size_t kQs = kFive ? 48 : 16;
  __m512 acc = _mm512_setzero_ps();
  __m128 acc_min = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* blk = row + i * kB;
    const uint8_t* xs = xp + i * kSuperBlockBytes;
    prefetch_stream(ahead(blk), kB);
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk));
    const __m128i a = _mm_shuffle_epi8(v, C.shuf_a);
    const __m128i b = _mm_shuffle_epi8(v, C.shuf_b);
    const __m128i a2 = _mm_blend_epi16(a, _mm_srli_epi16(a, 4), 0xC0);
    const __m128i u = _mm_ternarylogic_epi32(_mm_and_si128(a2, C.mask_a), _mm_srli_epi16(b, 2), C.m30, 0xF8);
    const __m256i w16 = _mm256_cvtepu8_epi16(u);  // words 0-7 scales, 8-15 mins
    const __m512i w512 = _mm512_castsi256_si512(w16);
    const __m512i s0 = _mm512_permutexvar_epi16(C.idx_s[0], w512);
    const __m512i s1 = _mm512_permutexvar_epi16(C.idx_s[1], w512);
    const __m512i q0 = _mm512_loadu_si512(blk + kQs);
    const __m512i q1 = _mm512_loadu_si512(blk + kQs + 64);
    __m512i q[4] = {_mm512_and_si512(q0, C.m4), _mm512_and_si512(_mm512_srli_epi16(q0, 4), C.m4),
                    _mm512_and_si512(q1, C.m4), _mm512_and_si512(_mm512_srli_epi16(q1, 4), C.m4)};
    if constexpr (kFive) {
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16)));
      const __m512i sixteen = _mm512_set1_epi8(16);
      #pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) q[k] = _mm512_mask_add_epi8(q[k], _mm512_test_epi8_mask(qh, C.hbit[k]), q[k], sixteen);
    }
    const auto* x = reinterpret_cast<const __m512i*>(xs);
    __m512i p[4];
    #pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) p[k] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[k], _mm512_load_si512(x + k));
    const __m512i isum = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_packs_epi32(p[0], p[1]), s0),
                                             _mm512_packs_epi32(p[2], p[3]), s1);
    float dx;
    std::memcpy(&dx, xs + 272, sizeof dx);
    const __m128 dd = _mm_mul_ps(_mm_cvtph_ps(v), _mm_set1_ps(dx));  // d * dx, dmin * dx
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_broadcastss_ps(dd), acc);
    const __m128i msum = _mm_madd_epi16(_mm256_extracti128_si256(w16, 1),
                                        _mm_loadu_si128(reinterpret_cast<const __m128i*>(xs + 256)));
    acc_min = _mm_fmadd_ps(_mm_cvtepi32_ps(msum), _mm_permute_ps(dd, 0x55), acc_min);
  }
  const __m128 m2 = _mm_add_ps(acc_min, _mm_movehl_ps(acc_min, acc_min));
  const __m128 m1 = _mm_add_ss(m2, _mm_movehdup_ps(m2));
  return _mm512_reduce_add_ps(acc) - _mm_cvtss_f32(m1);
}

template <bool kFive>
void rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  constexpr size_t kB = kFive ? sizeof(block_q5_K) : sizeof(block_q4_K);
  const Consts C;
  const int64_t nb = n / kQK_K;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const StreamAhead ahead(w, ws, nr, static_cast<size_t>(nb) * kB, kB);
  for (int r = 0; r < nr; ++r) y[r] = row_dot<kFive>(nb, C, w + r * ws, xp, ahead);
}

// ---------------------------------------------------------------------------------------------
// q6_K
//
// ql[64h + l] holds the low 4 bits of element 128h + l (low nibble) and 128h + 64 + l (high
// nibble); qh[32h + l] bits 2t, 2t + 1 are the high bits of element 128h + 32t + l.  So
// vector v (64 lanes) = low (v even) or high (v odd) nibbles of ql[64 * (v / 2) ..], holding
// elements 64v + [0, 64) in order, and its high bits come from qh[32 * (v / 2) ..] repeated
// in both 256-bit halves, shifted per half.  The activations keep their natural order.
//
// Prepared activations, per super-block (kQ6SuperBlockBytes):
//   [0, 256)    the 256 activations;
//   [256, 288)  16 int16: minus the 16 bsums (for the "-32" term);
//   [288, 292)  the activation scale.
constexpr size_t kQ6SuperBlockBytes = 320;

size_t q6_x_bytes(int64_t n) { return static_cast<size_t>(n / kQK_K) * kQ6SuperBlockBytes; }

void q6_prepare(int64_t n, const void* vxq, void* vxp) {
  const auto* xq = static_cast<const block_q8_K*>(vxq);
  auto* out = static_cast<uint8_t*>(vxp);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t* g = out + i * kQ6SuperBlockBytes;
    std::memcpy(g, xq[i].qs, 256);
    auto* nbs = reinterpret_cast<int16_t*>(g + 256);
    for (int j = 0; j < 16; ++j) nbs[j] = static_cast<int16_t>(-xq[i].bsums[j]);
    std::memcpy(g + 288, &xq[i].d, sizeof(float));
  }
}

// Even vectors: bits 0-1 (first 256-bit half) / 2-3 (second) to bits 4-5; odd: bits 4-5 / 6-7.
constexpr Table kQ6ShiftEven = words32([](int i) { return i < 16 ? 4 : 2; });
constexpr Table kQ6ShiftOdd = words32([](int i) { return i < 16 ? 0 : 2; });
// VPACKSSDW of vectors (2t, 2t + 1): per 128-bit lane c, words 0-3 are sub-block 8t + c,
// words 4-7 sub-block 8t + 4 + c.
constexpr Table q6_scale_index(int t) {
  return words32([=](int i) { return 8 * t + i / 8 + ((i % 8) < 4 ? 0 : 4); });
}
constexpr Table kQ6ScaleIndex[2] = {q6_scale_index(0), q6_scale_index(1)};

struct Q6Consts {
  __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  __m512i shl_lo = load(kQ6ShiftEven), shr_hi = load(kQ6ShiftOdd);
  __m512i idx_s[2] = {load(kQ6ScaleIndex[0]), load(kQ6ScaleIndex[1])};
};

float q6_row(int64_t nb, const Q6Consts& C, const uint8_t* row, const uint8_t* xp, const StreamAhead& ahead) {
  constexpr size_t kB = sizeof(block_q6_K);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* blk = row + i * kB;
    const uint8_t* xs = xp + i * kQ6SuperBlockBytes;
    prefetch_stream(ahead(blk), kB);
    const auto* x = reinterpret_cast<const __m512i*>(xs);
    __m512i p[4];
    #pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(blk + 64 * h);
      const __m512i qh =
          _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h)));
      const __m512i hi_e = _mm512_and_si512(_mm512_sllv_epi16(qh, C.shl_lo), C.m30);
      const __m512i hi_o = _mm512_and_si512(_mm512_srlv_epi16(qh, C.shr_hi), C.m30);
      const __m512i ve = _mm512_ternarylogic_epi32(ql, C.m4, hi_e, 0xEA);  // (a & b) | c
      const __m512i vo = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), C.m4, hi_o, 0xEA);
      p[2 * h] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ve, _mm512_load_si512(x + 2 * h));
      p[2 * h + 1] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), vo, _mm512_load_si512(x + 2 * h + 1));
    }
    const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192)));
    const __m512i scz = _mm512_zextsi256_si512(sc);
    __m512i s = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_packs_epi32(p[0], p[1]),
                                    _mm512_permutexvar_epi16(C.idx_s[0], scz));
    s = _mm512_dpwssd_epi32(s, _mm512_packs_epi32(p[2], p[3]), _mm512_permutexvar_epi16(C.idx_s[1], scz));
    // Stored q is value + 32: add 32 * scale * (minus the bsums).
    s = _mm512_dpwssd_epi32(s, _mm512_zextsi256_si512(_mm256_slli_epi16(sc, 5)),
                            _mm512_zextsi256_si512(_mm256_load_si256(reinterpret_cast<const __m256i*>(xs + 256))));
    uint16_t d16;
    std::memcpy(&d16, blk + 208, sizeof d16);
    float dx;
    std::memcpy(&dx, xs + 288, sizeof dx);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(_cvtsh_ss(d16) * dx), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

void q6_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  constexpr size_t kB = sizeof(block_q6_K);
  const Q6Consts C;
  const int64_t nb = n / kQK_K;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const StreamAhead ahead(w, ws, nr, static_cast<size_t>(nb) * kB, kB);
  for (int r = 0; r < nr; ++r) y[r] = q6_row(nb, C, w + r * ws, xp, ahead);
}

void install(KernelTable& t, TensorType type, MatvecBytesFn bytes, MatvecPrepareFn prepare, MatvecRowsFn rows) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(type)];
  k.matvec_x_bytes = bytes;
  k.matvec_prepare = prepare;
  k.matvec_rows = rows;
}

}  // namespace

void install_avx512_kquant_matvec(KernelTable& t) {
  install(t, TensorType::kQ4_K, x_bytes, prepare, rows<false>);
  install(t, TensorType::kQ5_K, x_bytes, prepare, rows<true>);
  install(t, TensorType::kQ6_K, q6_x_bytes, q6_prepare, q6_rows);
}

}  // namespace plumb::kernels
