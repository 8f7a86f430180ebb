// AVX-512 single-token matvec for q4_0 weights on CPUs with AVX512_VBMI (Ice Lake, Zen 4 and
// later).  A group of 8 blocks (144 bytes) is read with four overlapping loads, at offsets 0,
// 8, 72 and 80, so that two byte permutes (VPERMT2B) pick its 128 packed bytes out in an order
// where each 32-bit lane holds bytes of one block: lanes b and b + 8 belong to block b.  Four
// chained VPDPBUSD (low and high nibbles of both permutes) then leave one block's sums in just
// two lanes, so one conversion and one FMA finish 8 blocks, with the 8 fp16 scales gathered by
// a word permute straight into that lane order: 17 vector ops per 8 blocks, where one 128-bit
// lane per block would need twice the conversions and FMAs and two more scale permutes.  Each
// thread reads its rows one after another, as one linear stream (vbmi_group_rows.h, stream_row).
//
// The activations are laid out per group as vbmi_group_rows.h describes (bias 8).
//
// Only intrinsics and file-local functions here (see dispatch.h for why).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include "kernels/dispatch.h"
#include "kernels/x86/vbmi_group_rows.h"

namespace plumb::kernels {

namespace {

constexpr size_t kBlockBytes = 18;               // sizeof(block_q4_0)
constexpr size_t kGroupBytes = 8 * kBlockBytes;  // 144

void prepare_x(int64_t n, const void* xq, void* xp) { prepare_groups(n, xq, xp, 8); }

// The four loads of a group start at these byte offsets; each permute reads two of them.
constexpr int kLoadA = 0, kLoadB = 72, kLoadC = 8, kLoadD = 80;

// Permute index (into the 128 bytes of loads at `first` and `second`) that gathers packed
// bytes `base` .. base + 3 of block b into lane b, and base + 4 .. base + 7 into lane b + 8.
inline __m512i nibble_index(int base, int first, int second) {
  alignas(64) uint8_t idx[64];
  for (int k = 0; k < 64; ++k) {
    const int lane = k / 4, b = lane % 8;
    const int addr = 18 * b + 2 + base + (lane >= 8 ? 4 : 0) + k % 4;
    idx[k] = static_cast<uint8_t>(addr - first < 64 ? addr - first : 64 + addr - second);
  }
  return _mm512_load_si512(idx);
}

struct Constants {
  __m512i scale_words;  // words of loads A, B: the fp16 scales of blocks 0-7, then 0-7 again
  __m512i nibbles[2];   // packed bytes 0-7 of each block from (A, B), bytes 8-15 from (C, D)
  __m512i m4;
  Constants()
      : scale_words(_mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 59, 50, 41, 32, 27, 18, 9, 0,
                                     59, 50, 41, 32, 27, 18, 9, 0)),
        nibbles{nibble_index(0, kLoadA, kLoadB), nibble_index(8, kLoadC, kLoadD)},
        m4(_mm512_set1_epi8(0x0F)) {}
};

// One group of 8 blocks of one row: 144 bytes at gp, all four loads inside them.
inline __attribute__((always_inline)) void group_row(const Constants& k, const uint8_t* gp, const GroupX& gx,
                                                      __m512& acc) {
  __m512i a = _mm512_loadu_si512(gp + kLoadA);
  __m512i b = _mm512_loadu_si512(gp + kLoadB);
  const __m512i c = _mm512_loadu_si512(gp + kLoadC);
  const __m512i d = _mm512_loadu_si512(gp + kLoadD);
  // a and b each feed two permutes, and VPERMT2B / VPERMT2W overwrite their first table: left
  // to itself GCC reloads them from memory for the second permute rather than copy a register,
  // and L1 load bandwidth is what limits this kernel from cache (10 loads per group, not 12).
  asm("" : "+v"(a), "+v"(b));
  const __m512 scale =
      _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(a, k.scale_words, b))), gx.dx);
  const __m512i v0 = _mm512_permutex2var_epi8(a, k.nibbles[0], b);
  const __m512i v1 = _mm512_permutex2var_epi8(c, k.nibbles[1], d);
  __m512i s = gx.off;
  s = _mm512_dpbusd_epi32(s, _mm512_and_si512(v0, k.m4), gx.x[0]);
  s = _mm512_dpbusd_epi32(s, _mm512_and_si512(_mm512_srli_epi16(v0, 4), k.m4), gx.x[1]);
  s = _mm512_dpbusd_epi32(s, _mm512_and_si512(v1, k.m4), gx.x[2]);
  s = _mm512_dpbusd_epi32(s, _mm512_and_si512(_mm512_srli_epi16(v1, 4), k.m4), gx.x[3]);
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, acc);
}

void matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  const GroupLayout L(n);
  const Constants k;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const auto group = [&k](const uint8_t* gp, const GroupX& gx, __m512& acc) { group_row(k, gp, gx, acc); };
  const StreamAhead ahead(w, ws, nr, static_cast<size_t>(L.nb) * kBlockBytes, kGroupBytes);
  for (int r = 0; r < nr; ++r) y[r] = stream_row<kGroupBytes, kBlockBytes>(L, w + r * ws, xp, ahead, group);
}

}  // namespace

void install_avx512vbmi_matvec(KernelTable& t) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(TensorType::kQ4_0)];
  k.matvec_x_bytes = prepared_x_bytes;
  k.matvec_prepare = prepare_x;
  k.matvec_rows = matvec_rows;
}

}  // namespace plumb::kernels
