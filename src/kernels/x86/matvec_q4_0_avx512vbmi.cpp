// AVX-512 single-token matvec for q4_0 weights on CPUs with AVX512_VBMI (Ice Lake, Zen 4 and
// later).  A group of 8 blocks (144 bytes) is read with four overlapping loads, at offsets 0,
// 8, 72 and 80, so that two byte permutes (VPERMT2B) pick its 128 packed bytes out in an order
// where each 32-bit lane holds bytes of one block: lanes b and b + 8 belong to block b.  Four
// chained VPDPBUSD (low and high nibbles of both permutes) then leave one block's sums in just
// two lanes, so one conversion and one FMA finish 8 blocks, with the 8 fp16 scales gathered by
// a word permute straight into that lane order: 17 vector ops per 8 blocks, where one 128-bit
// lane per block would need twice the conversions and FMAs and two more scale permutes.  Each
// thread reads its rows one after another, as one linear stream (see row_dot).
//
// Prepared activations, per group g of 8 blocks (zeros past the last block), 384 bytes:
//   x[0..3]  4 x 64 bytes: lane b / b + 8 of x[0] has elements 0-3 / 4-7 of block 8g + b,
//            x[1] elements 16-19 / 20-23, x[2] 8-11 / 12-15, x[3] 24-27 / 28-31: the partners
//            of the low and high nibbles of the two permutes' bytes;
//   off      16 int32: -8 * (sum of the 16 activations each lane meets), so that the chained
//            VPDPBUSD started from off yield sum (q - 8) * x per lane;
//   dx       16 floats: the activation scale of block 8g + (lane mod 8).
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
constexpr size_t kPreparedGroupBytes = 384;      // x[0..3], off, dx

struct Layout {
  int64_t nb, n_groups;
  explicit Layout(int64_t n) : nb(n / 32), n_groups((n / 32 + 7) / 8) {}
};

size_t x_bytes(int64_t n) { return static_cast<size_t>(Layout(n).n_groups) * kPreparedGroupBytes; }

// Where element `first` .. first + 3 of a block go in x[0..3]: which vector, for lane b.
struct Quad {
  int vec, first_lo, first_hi;  // elements for lane b and for lane b + 8
};
constexpr Quad kQuads[4] = {{0, 0, 4}, {1, 16, 20}, {2, 8, 12}, {3, 24, 28}};

void prepare_x(int64_t n, const void* vxq, void* vxp) {
  const Layout L(n);
  const auto* xq = static_cast<const block_q8_0*>(vxq);
  auto* out = static_cast<uint8_t*>(vxp);
  const __m512i eight = _mm512_set1_epi8(8);
  for (int64_t g = 0; g < L.n_groups; ++g) {
    uint8_t* x = out + g * kPreparedGroupBytes;
    auto* dx = reinterpret_cast<float*>(x + 320);
    std::memset(x, 0, 256);
    for (int b = 0; b < 8; ++b) {
      const int64_t blk = 8 * g + b;
      dx[b] = dx[b + 8] = blk < L.nb ? _cvtsh_ss(xq[blk].d) : 0.0f;
      if (blk >= L.nb) continue;
      for (const Quad& q : kQuads) {
        std::memcpy(x + 64 * q.vec + 4 * b, xq[blk].qs + q.first_lo, 4);
        std::memcpy(x + 64 * q.vec + 4 * (b + 8), xq[blk].qs + q.first_hi, 4);
      }
    }
    __m512i s = _mm512_setzero_si512();
    for (int v = 0; v < 4; ++v) s = _mm512_dpbusd_epi32(s, eight, _mm512_load_si512(x + 64 * v));
    _mm512_store_si512(x + 256, _mm512_sub_epi32(_mm512_setzero_si512(), s));
  }
}

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

// The prepared activations of one group.
struct GroupX {
  __m512i x[4], off;
  __m512 dx;
  explicit GroupX(const uint8_t* xg) {
    const auto* v = reinterpret_cast<const __m512i*>(xg);
    for (int i = 0; i < 4; ++i) x[i] = _mm512_load_si512(v + i);
    off = _mm512_load_si512(v + 4);
    dx = _mm512_load_ps(reinterpret_cast<const float*>(xg + 320));
  }
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

// One row, read as one stretch of the thread's linear stream of rows.  Rows used to be read
// four at a time, sharing each group's activation loads: faster hot-cache (MatvecHot/q4_0
// 30-34 against 25 GB/s) and, on one day's VM, faster decoding (1B q4_0 tg64, 2 threads, 52.5
// against 45.3 tok/s); on another, interleaving even two row streams halved what memory
// delivered (tg64 22-23 against 48-50 tok/s; kernels_bench Matvec/q4_0, one thread, 7-10
// against 15-17 GB/s), while one stream per thread held up in both.  Every row takes the same
// path, so results do not depend on how rows are split between threads.
//
// Even groups accumulate into acc0 and odd ones into acc1, two named registers: indexing an
// array by g & 1 made GCC keep both on the stack, so every group's FMA waited for the store of
// the one two groups before.  (MatvecHot/q4_0, one thread: 25-26 GB/s before, 27-28 with the
// registers, 30-32 once group_row also stopped loading a and b twice.)
float row_dot(const Layout& L, const Constants& k, const uint8_t* row, const uint8_t* xp) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  const int64_t full = L.nb / 8;
  auto group = [&](int64_t g, __m512& acc) {
    const uint8_t* gp = row + g * kGroupBytes;
    prefetch_l2(gp + kStreamPrefetchBytes, kGroupBytes);
    group_row(k, gp, GroupX(xp + g * kPreparedGroupBytes), acc);
  };
  int64_t g = 0;
  for (; g + 2 <= full; g += 2) {
    group(g, acc0);
    group(g + 1, acc1);
  }
  if (g < full) group(g++, acc0);
  if (full < L.n_groups) {
    // The last 1-7 blocks, copied into a zeroed group (zero scales; the activations past the
    // last block are zero too).
    alignas(64) uint8_t tail[kGroupBytes] = {};
    std::memcpy(tail, row + full * kGroupBytes, static_cast<size_t>(L.nb - 8 * full) * kBlockBytes);
    group_row(k, tail, GroupX(xp + full * kPreparedGroupBytes), full % 2 == 0 ? acc0 : acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

void matvec_rows(int64_t n, const void* vw, size_t ws, int nr, const void* vxp, float* y) {
  const Layout L(n);
  const Constants k;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* xp = static_cast<const uint8_t*>(vxp);
  for (int r = 0; r < nr; ++r) y[r] = row_dot(L, k, w + r * ws, xp);
}

}  // namespace

void install_avx512vbmi_matvec(KernelTable& t) {
  WeightKernels& k = t.weights[static_cast<uint32_t>(TensorType::kQ4_0)];
  k.matvec_x_bytes = x_bytes;
  k.matvec_prepare = prepare_x;
  k.matvec_rows = matvec_rows;
}

}  // namespace plumb::kernels
