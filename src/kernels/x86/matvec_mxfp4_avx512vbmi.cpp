// AVX-512 single-token matvec for MXFP4 weights on CPUs with AVX512_VBMI (Ice Lake, Zen 4 and
// later), the decode kernel of gpt-oss's experts.  As the q4_0 VBMI kernel of stops 12-18 did: a
// group of 8 blocks (136 bytes) is read with four overlapping
// loads, at offsets 0, 64, 8 and 72, and two byte permutes (VPERMT2B) pick its 128 packed bytes
// out in an order where lane b holds packed bytes 0-3 of block b and lane b + 8 bytes 4-7 (first
// permute), or 8-11 and 12-15 (second).  A third, zero-masked, puts each block's exponent byte
// in the low byte of lanes b and b + 8.  After the table lookups (VPSHUFB, values + 12), four
// chained VPDPBUSD leave one block's sums in two lanes, so one conversion and one FMA finish 8
// blocks, with the scales dx * 2^(e - 128) from one VSCALEFPS: 21 vector operations per 8
// blocks, where one block per 128-bit lane (mxfp4_avx512.cpp) takes 31 and gathers the
// exponents byte by byte.  Each thread reads its rows one after another, as one linear stream
// (vbmi_group_rows.h, stream_row).
//
// The activations are laid out per group as vbmi_group_rows.h describes (bias 12).
//
// Only intrinsics and file-local functions here (see dispatch.h for why).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include "kernels/dispatch.h"
#include "kernels/x86/mxfp4_unpack.h"
#include "kernels/x86/vbmi_group_rows.h"

namespace plumb::kernels {

namespace {

void prepare_x(int64_t n, const void* xq, void* xp) { prepare_groups(n, xq, xp, kMxfp4Bias); }

// The four loads of a group start at these byte offsets; each permute reads two of them.
constexpr int kLoadA = 0, kLoadB = 64, kLoadC = 8, kLoadD = 72;

// Permute index (into the 128 bytes of the loads at `first` and first + 64) that gathers packed
// bytes `base` .. base + 3 of block b into lane b, and base + 4 .. base + 7 into lane b + 8.
inline __m512i packed_index(int base, int first) {
  alignas(64) uint8_t idx[64];
  for (int k = 0; k < 64; ++k) {
    const int lane = k / 4, b = lane % 8;
    const int addr = static_cast<int>(kMxfp4BlockBytes) * b + 1 + base + (lane >= 8 ? 4 : 0) + k % 4;
    idx[k] = static_cast<uint8_t>(addr - first);
  }
  return _mm512_load_si512(idx);
}

// Permute index that puts block (lane mod 8)'s exponent byte e in the low byte of each lane.
// The permute keeps the index's other bytes (kExponentBytes selects only the low ones), and
// those are 0x4B0000, so that each lane reads as the float 2^23 + e: e - 128 is then one float
// subtraction away, without a conversion.
inline __m512i exponent_index() {
  alignas(64) uint32_t idx[16];
  for (int lane = 0; lane < 16; ++lane) idx[lane] = 0x4B000000u | static_cast<uint32_t>(kMxfp4BlockBytes * (lane % 8));
  return _mm512_load_si512(idx);
}
constexpr __mmask64 kExponentBytes = 0x1111111111111111ull;
constexpr float kTwo23Plus128 = 8388736.0f;  // 2^23 + 128

struct Constants {
  __m512i packed[2];  // packed bytes 0-7 of each block from (A, B), bytes 8-15 from (C, D)
  __m512i exponents;
  __m512i table, m4;
  Constants()
      : packed{packed_index(0, kLoadA), packed_index(8, kLoadC)},
        exponents(exponent_index()),
        table(_mm512_broadcast_i32x4(_mm256_castsi256_si128(mxfp4_biased_table()))),
        m4(_mm512_set1_epi8(0x0F)) {}
};

// One group of 8 blocks of one row: 136 bytes at gp, all four loads inside them.
inline __attribute__((always_inline)) void group_row(const Constants& k, const uint8_t* gp, const GroupX& gx,
                                                      __m512& acc) {
  __m512i a = _mm512_loadu_si512(gp + kLoadA);
  __m512i b = _mm512_loadu_si512(gp + kLoadB);
  const __m512i c = _mm512_loadu_si512(gp + kLoadC);
  const __m512i d = _mm512_loadu_si512(gp + kLoadD);
  // a and b feed two permutes each, and VPERMT2B overwrites its first table: left to itself GCC
  // reloads them rather than copy a register.
  asm("" : "+v"(a), "+v"(b));
  const __m512i e = _mm512_mask2_permutex2var_epi8(a, k.exponents, kExponentBytes, b);  // 2^23 + e
  const __m512 scale = _mm512_scalef_ps(gx.dx, _mm512_sub_ps(_mm512_castsi512_ps(e), _mm512_set1_ps(kTwo23Plus128)));
  const __m512i v0 = _mm512_permutex2var_epi8(a, k.packed[0], b);
  const __m512i v1 = _mm512_permutex2var_epi8(c, k.packed[1], d);
  const auto lookup = [&](__m512i nibbles) { return _mm512_shuffle_epi8(k.table, _mm512_and_si512(nibbles, k.m4)); };
  __m512i s = gx.off;
  s = _mm512_dpbusd_epi32(s, lookup(v0), gx.x[0]);
  s = _mm512_dpbusd_epi32(s, lookup(_mm512_srli_epi16(v0, 4)), gx.x[1]);
  s = _mm512_dpbusd_epi32(s, lookup(v1), gx.x[2]);
  s = _mm512_dpbusd_epi32(s, lookup(_mm512_srli_epi16(v1, 4)), gx.x[3]);
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, acc);
}

void matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  const GroupLayout L(n);
  const Constants k;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  const auto group = [&k](const uint8_t* gp, const GroupX& gx, __m512& acc) { group_row(k, gp, gx, acc); };
  const StreamAhead ahead(w, ws, nr, static_cast<size_t>(L.nb) * kMxfp4BlockBytes, kMxfp4GroupBytes);
  for (int r = 0; r < nr; ++r)
    y[r] = stream_row<kMxfp4GroupBytes, kMxfp4BlockBytes>(L, w + r * ws, xp, ahead, group);
}

}  // namespace

void install_avx512vbmi_mxfp4_matvec(KernelTable& t) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(TensorType::kMXFP4)];
  k.matvec_x_bytes = prepared_x_bytes;
  k.matvec_prepare = prepare_x;
  k.matvec_rows = matvec_rows;
}

}  // namespace plumb::kernels
