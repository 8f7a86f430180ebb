// AVX-512 (VNNI) single-token matvec for q4_K and q5_K weights: the decode path, where every
// weight byte is read once per token and the kernel has to keep up with memory.
//
// Super-blocks are handled in groups of four.  Per super-block and row, the 128 bytes of qs
// split into four 64-lane vectors of nibbles (q5_K adds the fifth bit with a byte-masked add),
// and the activations were laid out once per call (prepare) in exactly those lanes.  Four
// VPDPBUSD give per-lane sums of four products; these fit in 16 bits, so two VPACKSSDW fold the
// four vectors into two of words, and two VPDPWSSD apply the sub-block scales (one word permute
// each).  The scales and mins of the whole group come out of one 64-byte vector: four 16-byte
// loads, two byte shuffles and a few masks decode the 6-bit packed values of four super-blocks
// at once.  The four per-super-block integer sums are transposed into one vector (lane 4c + k:
// a part of super-block k), converted once and scaled by one FMA with the four d * dx; the mins
// term lands in the same lanes with one VPMADDWD against prepared sub-block sums of the
// activations, and one more FMA with the four dmin * dx.
//
// Rows are computed one after another (the matrix is read as one stream), prefetching a fixed
// distance ahead into L2.  Every row's arithmetic depends only on n, so results do not depend
// on how rows are split between threads.
//
// q6_K has no decode kernel here on purpose: the same scheme (two high bits merged with a shift,
// AND and ternlog; "-32" via one more VPDPWSSD against the bsums; commit cfb8d14) computed at
// 32-35 GB/s from L2 against 27-29 for the one-token gemm tile, but from DRAM it was no faster
// on a quiet machine and 8-25% slower while the other core loaded memory (the gemm tile's four
// interleaved rows hold up better there), so q6_K keeps the gemm tile.
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

namespace plumb::kernels {

namespace {

constexpr int kGroup = 4;          // super-blocks per group
// Rows are computed one after another, so the weights are read as one stream; each
// super-block asks for the bytes kPrefetchBytes further on in L2 as it is read.  Measured on
// Zen 4 (1 thread): without it, rows of 1-2 KB decoded ~30% slower; 8 and 16 KB did alike,
// 4 KB and 32-64 KB worse; requests spread over the super-blocks beat a whole group at once,
// and this single stream beat 8 rows side by side with next-tile prefetches.
constexpr size_t kPrefetchBytes = 8192;

// Asks for the super-block kPrefetchBytes further on in the row stream: one request per 64
// bytes of block (prefetch_l2 adds one for the last byte).  Blocks follow each other without
// gaps, so the only line of a block this can miss, the one holding its last bytes, is the
// line the next block starts in, which that block requests.
template <size_t kBlockBytes>
inline void prefetch_ahead(const uint8_t* block) {
  const char* p = reinterpret_cast<const char*>(block) + kPrefetchBytes;
  #pragma GCC unroll 4
  for (size_t o = 0; o < kBlockBytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T1);
}

int64_t n_groups(int64_t n) { return (n / kQK_K + kGroup - 1) / kGroup; }

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

// Four 16-byte pieces, piece k from p + k * stride (k < cnt; later lanes repeat piece cnt - 1,
// so that a partial group reads only its own blocks), one per 128-bit lane.
template <bool kFull>
inline __m512i load4x16(const uint8_t* p, size_t stride, int cnt) {
  auto at = [&](int k) { return reinterpret_cast<const __m128i*>(p + (kFull || k < cnt ? k : cnt - 1) * stride); };
  __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(at(0)));
  v = _mm512_inserti32x4(v, _mm_loadu_si128(at(1)), 1);
  v = _mm512_inserti32x4(v, _mm_loadu_si128(at(2)), 2);
  return _mm512_inserti32x4(v, _mm_loadu_si128(at(3)), 3);
}

// ---------------------------------------------------------------------------------------------
// q4_K and q5_K
//
// Prepared activations, per group of four super-blocks (kAsymGroupBytes, zeros past the last
// super-block):
//   [0, 1024)     per super-block k, four 64-byte vectors in the weights' lane order: vector
//                 2h + s (h: which 64 bytes of qs, s: low/high nibble) holds elements
//                 128h + 32s + [0, 32) then 128h + 64 + 32s + [0, 32);
//   [1024, 1088)  32 int16: word 8c + 2k + e = sum of the activations of sub-block 2c + e of
//                 super-block k (the lane order of the mins' VPMADDWD);
//   [1088, 1120)  8 floats: the activation scales of the four super-blocks, twice.
constexpr size_t kAsymGroupBytes = 1152;

size_t asym_x_bytes(int64_t n) { return static_cast<size_t>(n_groups(n)) * kAsymGroupBytes; }

void asym_prepare(int64_t n, const void* vxq, void* vxp) {
  const int64_t nb = n / kQK_K;
  const auto* xq = static_cast<const block_q8_K*>(vxq);
  auto* out = static_cast<uint8_t*>(vxp);
  std::memset(out, 0, asym_x_bytes(n));
  for (int64_t i = 0; i < nb; ++i) {
    uint8_t* g = out + (i / kGroup) * kAsymGroupBytes;
    const int k = static_cast<int>(i % kGroup);
    auto* xs = reinterpret_cast<int8_t*>(g + 256 * k);
    const int8_t* q = xq[i].qs;
    for (int h = 0; h < 2; ++h) {
      for (int s = 0; s < 2; ++s) {
        std::memcpy(xs + 128 * h + 64 * s, q + 128 * h + 32 * s, 32);
        std::memcpy(xs + 128 * h + 64 * s + 32, q + 128 * h + 64 + 32 * s, 32);
      }
    }
    auto* sums = reinterpret_cast<int16_t*>(g + 1024);
    for (int j = 0; j < 8; ++j)
      sums[8 * (j / 2) + 2 * k + j % 2] = static_cast<int16_t>(xq[i].bsums[2 * j] + xq[i].bsums[2 * j + 1]);
    auto* dx = reinterpret_cast<float*>(g + 1088);
    dx[k] = dx[4 + k] = xq[i].d;
  }
}

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
// from the high-nibble one (sub-block 1 or 3, +4).  The scale of sub-block j of super-block k
// is word 16 * (k & 1) + j of its word table (wa for k < 2, wb otherwise).
constexpr Table asym_scale_index(int par, int half) {
  return words32([=](int i) { return 16 * par + 4 * half + (i / 8 < 2 ? 0 : 2) + (i % 8) / 4; });
}
constexpr Table kAsymScaleIndex[2][2] = {{asym_scale_index(0, 0), asym_scale_index(0, 1)},
                                         {asym_scale_index(1, 0), asym_scale_index(1, 1)}};
// Mins: word 8c + 2k + e = min of sub-block 2c + e of super-block k, from (wa, wb).
constexpr Table kMinIndex = words32([](int i) {
  const int c = i / 8, k = (i % 8) / 2, e = i % 2;
  return 32 * (k / 2) + 16 * (k % 2) + 8 + 2 * c + e;
});
// d of super-blocks 0-3 (word 8k of the raw vector), then dmin (word 8k + 1).
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

// One group (cnt super-blocks, all four when kFull) of one row; returns the updated sum.
template <bool kFive, bool kFull>
inline __m512 asym_group(const AsymConsts& C, const uint8_t* w, const uint8_t* xg, __m512 acc, int cnt) {
  constexpr size_t kB = kFive ? sizeof(block_q5_K) : sizeof(block_q4_K);
  constexpr size_t kQs = kFive ? 48 : 16;
  // Scales and mins of the four super-blocks (one per 128-bit lane), then as words:
  // wa = super-blocks 0, 1 and wb = 2, 3, each [8 scales, 8 mins].
  const __m512i v = load4x16<kFull>(w, kB, cnt);
  const __m512i a = _mm512_shuffle_epi8(v, C.shuf_a);
  const __m512i b = _mm512_shuffle_epi8(v, C.shuf_b);
  const __m512i a2 = _mm512_mask_blend_epi8(0xF000F000F000F000ull, a, _mm512_srli_epi16(a, 4));
  const __m512i u =
      _mm512_ternarylogic_epi32(_mm512_and_si512(a2, C.mask_a), _mm512_srli_epi16(b, 2), C.m30, 0xF8);  // a|(b&c)
  const __m512i wa = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(u));
  const __m512i wb = _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(u, 1));
  // d * dx and dmin * dx of the four super-blocks, each repeated in every 128-bit lane.
  const __m256 f8 = _mm256_mul_ps(_mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi16(C.idx_d, v))),
                                  _mm256_load_ps(reinterpret_cast<const float*>(xg + 1088)));
  const __m512 fd = _mm512_broadcast_f32x4(_mm256_castps256_ps128(f8));
  const __m512 fm = _mm512_broadcast_f32x4(_mm256_extractf128_ps(f8, 1));
  const __m512i msum = _mm512_madd_epi16(_mm512_permutex2var_epi16(wa, C.idx_m, wb),
                                         _mm512_load_si512(xg + 1024));

  __m512i isum[kGroup];
  #pragma GCC unroll 4
  for (int k = 0; k < kGroup; ++k) {
    if (!kFull && k >= cnt) {
      isum[k] = _mm512_setzero_si512();
      continue;
    }
    const uint8_t* blk = w + k * kB;
    prefetch_ahead<kB>(blk);
    const __m512i q0 = _mm512_loadu_si512(blk + kQs);
    const __m512i q1 = _mm512_loadu_si512(blk + kQs + 64);
    __m512i n[4] = {_mm512_and_si512(q0, C.m4), _mm512_and_si512(_mm512_srli_epi16(q0, 4), C.m4),
                    _mm512_and_si512(q1, C.m4), _mm512_and_si512(_mm512_srli_epi16(q1, 4), C.m4)};
    if constexpr (kFive) {
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16)));
      const __m512i sixteen = _mm512_set1_epi8(16);
      #pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) n[s] = _mm512_mask_add_epi8(n[s], _mm512_test_epi8_mask(qh, C.hbit[s]), n[s], sixteen);
    }
    const auto* x = reinterpret_cast<const __m512i*>(xg + 256 * k);
    __m512i p[4];
    #pragma GCC unroll 4
    for (int s = 0; s < 4; ++s) p[s] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), n[s], _mm512_load_si512(x + s));
    const __m512i tab = k < 2 ? wa : wb;
    const __m512i s0 = _mm512_permutexvar_epi16(C.idx_s[k & 1][0], tab);
    const __m512i s1 = _mm512_permutexvar_epi16(C.idx_s[k & 1][1], tab);
    isum[k] = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_packs_epi32(p[0], p[1]), s0),
                                  _mm512_packs_epi32(p[2], p[3]), s1);
  }
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(transpose_sum4(isum[0], isum[1], isum[2], isum[3])), fd, acc);
  return _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), fm, acc);
}

// One row after another, so that the matrix is read as one stream; see kPrefetchBytes.
template <bool kFive>
void asym_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  constexpr size_t kB = kFive ? sizeof(block_q5_K) : sizeof(block_q4_K);
  const AsymConsts C;
  const int64_t nb = n / kQK_K;
  const int64_t full = nb / kGroup;
  const int rem = static_cast<int>(nb % kGroup);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  for (int r = 0; r < nr; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(vw) + r * ws;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t g = 0; g < full; ++g)
      acc = asym_group<kFive, true>(C, row + g * kGroup * kB, xp + g * kAsymGroupBytes, acc, kGroup);
    if (rem != 0)
      acc = asym_group<kFive, false>(C, row + full * kGroup * kB, xp + full * kAsymGroupBytes, acc, rem);
    y[r] = _mm512_reduce_add_ps(acc);
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
  install(t, TensorType::kQ4_K, asym_x_bytes, asym_prepare, asym_rows<false>);
  install(t, TensorType::kQ5_K, asym_x_bytes, asym_prepare, asym_rows<true>);
}

}  // namespace plumb::kernels
