// AVX-512 (VNNI) single-token matvec for q4_K and q5_K weights: the decode path, where every
// weight byte is read once per token and the kernel has to keep up with memory.
//
// Rows are taken four at a time, super-block by super-block.  Per row and super-block, the 128
// bytes of qs split into four 64-lane vectors of nibbles (q5_K adds the fifth bit with a
// byte-masked add), and the activations were laid out once per call (prepare) in exactly those
// lanes.  Four VPDPBUSD give per-lane sums of four products; these fit in 16 bits, so two
// VPACKSSDW fold the four vectors into two of words, and two VPDPWSSD apply the sub-block
// scales (one word permute each).  The scales and mins of the four rows come out of one 64-byte
// vector: four 16-byte loads, two byte shuffles and a few masks decode the 6-bit packed values
// of four super-blocks at once.  The four rows' integer sums are transposed into one vector
// (lane 4c + r: a part of row r), converted once and scaled by one FMA with the four d * dx;
// the mins term lands in the same lanes with one VPMADDWD against prepared sub-block sums of
// the activations, and one more FMA with the four dmin * dx.
//
// q6_K has no decode kernel here: the same scheme (the two high bits merged with a shift, AND
// and ternlog; "-32" via one more VPDPWSSD against the bsums; see commit cfb8d14) computed at
// 32-35 GB/s from L2 against 27-29 for the one-token gemm tile, but streamed from DRAM no
// faster in that version (rows one after another), and 8-25% slower while the other core
// loaded memory, so q6_K keeps the gemm tile (and install drops the AVX2 q6_K rows kernel,
// which the tile also beats).
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

// Sums of the 16 dword lanes of four vectors, transposed: lane 4c + k holds a partial sum of
// vector k (summing all lanes with the same k gives vector k's total).
inline __m512i transpose_sum4(__m512i i0, __m512i i1, __m512i i2, __m512i i3) {
  const __m512i t01 = _mm512_add_epi32(_mm512_unpacklo_epi32(i0, i1), _mm512_unpackhi_epi32(i0, i1));
  const __m512i t23 = _mm512_add_epi32(_mm512_unpacklo_epi32(i2, i3), _mm512_unpackhi_epi32(i2, i3));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(t01, t23), _mm512_unpackhi_epi64(t01, t23));
}

// ---------------------------------------------------------------------------------------------
// q4_K and q5_K
//
// Scale decoding.  Per 128-bit lane: bytes 0-1 d, 2-3 dmin, 4-15 the packed scales q[0..11].
// Decoded: bytes 0-7 the scales of sub-blocks 0-7, bytes 8-15 their mins, where
//   j < 4:  sc = q[j] & 63,                            m = q[j + 4] & 63;
//   j >= 4: sc = (q[j + 4] & 15) | (q[j - 4] >> 6) << 4, m = (q[j + 4] >> 4) | (q[j] >> 6) << 4.
constexpr Table kShufA = bytes64([](int i) {
  constexpr uint8_t a[16] = {4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15};
  return a[i % 16];
});
constexpr Table kShufB = bytes64([](int i) {
  constexpr uint8_t a[16] = {0x80, 0x80, 0x80, 0x80, 4, 5, 6, 7, 0x80, 0x80, 0x80, 0x80, 8, 9, 10, 11};
  return a[i % 16];
});
constexpr Table kMaskA = bytes64([](int i) { return (i % 8) < 4 ? 63 : 15; });
// Packed (VPACKSSDW) lanes of one pair of vectors: per 128-bit lane c, words 0-3 come from the
// low-nibble vector (sub-block 0 for c < 2, 2 otherwise; +4 for the second pair), words 4-7
// from the high-nibble one (sub-block 1 or 3, +4).  The scale of sub-block j of the row in
// lane r is word 16 * (r & 1) + j of its word table (wa for r < 2, wb otherwise).
constexpr Table asym_scale_index(int par, int half) {
  return words32([=](int i) { return 16 * par + 4 * half + (i / 8 < 2 ? 0 : 2) + (i % 8) / 4; });
}
constexpr Table kAsymScaleIndex[2][2] = {{asym_scale_index(0, 0), asym_scale_index(0, 1)},
                                         {asym_scale_index(1, 0), asym_scale_index(1, 1)}};
// Mins: word 8c + 2r + e = min of sub-block 2c + e of row r, from (wa, wb).
constexpr Table kMinIndex = words32([](int i) {
  const int c = i / 8, r = (i % 8) / 2, e = i % 2;
  return 32 * (r / 2) + 16 * (r % 2) + 8 + 2 * c + e;
});
// d of rows 0-3 (word 8r of the raw vector), then dmin (word 8r + 1).
constexpr Table kAsymDIndex = words32([](int i) { return i < 4 ? 8 * i : i < 8 ? 8 * (i - 4) + 1 : 0; });
// q5_K: qh[l] bit j is the fifth bit of element 32j + l.  Vector 2h + s covers sub-blocks
// 4h + s (lanes 0-31) and 4h + s + 2 (lanes 32-63).
constexpr Table hbit_mask(int v) {
  return bytes64([=](int i) { return 1 << (4 * (v / 2) + v % 2 + (i < 32 ? 0 : 2)); });
}
constexpr Table kHighBit[4] = {hbit_mask(0), hbit_mask(1), hbit_mask(2), hbit_mask(3)};

struct AsymConsts {
  __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  __m512i shuf_a = load(kShufA), shuf_b = load(kShufB), mask_a = load(kMaskA);
  __m512i idx_s[2][2] = {{load(kAsymScaleIndex[0][0]), load(kAsymScaleIndex[0][1])},
                         {load(kAsymScaleIndex[1][0]), load(kAsymScaleIndex[1][1])}};
  __m512i idx_m = load(kMinIndex), idx_d = load(kAsymDIndex);
  __m512i hbit[4] = {load(kHighBit[0]), load(kHighBit[1]), load(kHighBit[2]), load(kHighBit[3])};
};


// Prepared activations, per super-block (kSuperBlockBytes):
//   [0, 256)    the 256 activations in the weights' lane order: vector 2h + s (h: which 64
//               bytes of qs, s: low/high nibble) holds elements 128h + 32s + [0, 32), then
//               128h + 64 + 32s + [0, 32);
//   [256, 320)  32 int16: word 8c + 2r + e = sum of the activations of sub-block 2c + e (the
//               same for every r: the lane order of the mins' VPMADDWD over four rows);
//   [320, 324)  the activation scale.
constexpr size_t kSuperBlockBytes = 384;

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
    for (int w = 0; w < 32; ++w) {
      const int j = 2 * (w / 8) + w % 2;
      sums[w] = static_cast<int16_t>(xq[i].bsums[2 * j] + xq[i].bsums[2 * j + 1]);
    }
    std::memcpy(g + 320, &xq[i].d, sizeof(float));
  }
}

// Rows four at a time (a partial last tile repeats its last row and drops the copies); lane
// 4c + r of the accumulator belongs to row r, so each row's arithmetic is the same whichever
// tile or thread computes it.  Each row prefetches its super-block of the row four below (the
// next tile), and at least kMinPrefetchBytes ahead: with rows of 1-2 KB the next tile is too
// close.  Measured on Zen 4 (1 thread, with and without the other core loading memory): four
// interleaved rows beat reading the matrix as one stream row after row (by ~15% for 8 KB rows
// under load), and the 8 KB floor brought 1 KB rows from ~17 to ~20 GB/s.
constexpr size_t kMinPrefetchBytes = 8192;

template <bool kFive>
void rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  constexpr size_t kB = kFive ? sizeof(block_q5_K) : sizeof(block_q4_K);
  constexpr size_t kQs = kFive ? 48 : 16;  // offset of qs in the block
  const AsymConsts C;
  const int64_t nb = n / kQK_K;
  const size_t dist = 4 * ws > kMinPrefetchBytes ? 4 * ws : kMinPrefetchBytes;
  const StreamAhead ahead(vw, ws, nr, static_cast<size_t>(n / kQK_K) * kB, kB);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const auto* w = static_cast<const uint8_t*>(vw);
  for (int r0 = 0; r0 < nr; r0 += 4) {
    const uint8_t* row[4];
    for (int r = 0; r < 4; ++r) row[r] = w + static_cast<size_t>(r0 + r < nr ? r0 + r : nr - 1) * ws;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const uint8_t* xs = xp + i * kSuperBlockBytes;
      // d, dmin and packed scales of the four rows' super-blocks, one per 128-bit lane; then
      // the decoded scales and mins as words: wa = rows 0, 1 and wb = rows 2, 3.
      __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row[0] + i * kB)));
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(row[1] + i * kB)), 1);
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(row[2] + i * kB)), 2);
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(row[3] + i * kB)), 3);
      const __m512i a = _mm512_shuffle_epi8(v, C.shuf_a);
      const __m512i b = _mm512_shuffle_epi8(v, C.shuf_b);
      const __m512i a2 = _mm512_mask_blend_epi8(0xF000F000F000F000ull, a, _mm512_srli_epi16(a, 4));
      const __m512i u =  // (a2 & mask_a) | (b >> 2 & 0x30)
          _mm512_ternarylogic_epi32(_mm512_and_si512(a2, C.mask_a), _mm512_srli_epi16(b, 2), C.m30, 0xF8);
      const __m512i wa = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(u));
      const __m512i wb = _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(u, 1));
      // d * dx and dmin * dx of the four rows, each repeated in every 128-bit lane.
      float dx;
      std::memcpy(&dx, xs + 320, sizeof dx);
      const __m256 f8 = _mm256_mul_ps(_mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi16(C.idx_d, v))),
                                      _mm256_set1_ps(dx));
      const __m512 fd = _mm512_broadcast_f32x4(_mm256_castps256_ps128(f8));
      const __m512 fm = _mm512_broadcast_f32x4(_mm256_extractf128_ps(f8, 1));
      const __m512i msum = _mm512_madd_epi16(_mm512_permutex2var_epi16(wa, C.idx_m, wb), _mm512_load_si512(xs + 256));
      const auto* x = reinterpret_cast<const __m512i*>(xs);
      __m512i isum[4];
      #pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) {
        const uint8_t* blk = row[r] + i * kB;
        prefetch_stream(ahead(blk, dist), kB);
        const __m512i q0 = _mm512_loadu_si512(blk + kQs);
        const __m512i q1 = _mm512_loadu_si512(blk + kQs + 64);
        __m512i q[4] = {_mm512_and_si512(q0, C.m4), _mm512_and_si512(_mm512_srli_epi16(q0, 4), C.m4),
                        _mm512_and_si512(q1, C.m4), _mm512_and_si512(_mm512_srli_epi16(q1, 4), C.m4)};
        if constexpr (kFive) {
          const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16)));
          const __m512i sixteen = _mm512_set1_epi8(16);
          #pragma GCC unroll 4
          for (int s = 0; s < 4; ++s)
            q[s] = _mm512_mask_add_epi8(q[s], _mm512_test_epi8_mask(qh, C.hbit[s]), q[s], sixteen);
        }
        __m512i p[4];
        #pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) p[s] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[s], _mm512_load_si512(x + s));
        const __m512i tab = r < 2 ? wa : wb;
        const __m512i s0 = _mm512_permutexvar_epi16(C.idx_s[r & 1][0], tab);
        const __m512i s1 = _mm512_permutexvar_epi16(C.idx_s[r & 1][1], tab);
        isum[r] = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_packs_epi32(p[0], p[1]), s0),
                                      _mm512_packs_epi32(p[2], p[3]), s1);
      }
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(transpose_sum4(isum[0], isum[1], isum[2], isum[3])), fd, acc);
      acc = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), fm, acc);
    }
    // Lane r of the sum over c of lanes 4c + r: row r.
    const __m512 h = _mm512_add_ps(acc, _mm512_shuffle_f32x4(acc, acc, 0x4E));
    const __m512 t = _mm512_add_ps(h, _mm512_shuffle_f32x4(h, h, 0xB1));
    alignas(16) float out[4];
    _mm_store_ps(out, _mm512_castps512_ps128(t));
    for (int r = 0; r < 4 && r0 + r < nr; ++r) y[r0 + r] = out[r];
  }
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
  // q6_K decodes through the AVX-512 gemm tile, not the AVX2 rows kernel the level below
  // installed: the tile streams 2048x8192 at ~18 GB/s per core against ~15 for the AVX2 rows.
  WeightKernels& q6 = t.weights[static_cast<int>(TensorType::kQ6_K)];
  q6.matvec_x_bytes = nullptr;
  q6.matvec_prepare = nullptr;
  q6.matvec_rows = nullptr;
}

}  // namespace plumb::kernels
