// kernels/x86/vbmi_group_rows.h — the activations of the AVX512_VBMI mxfp4 decode kernel
// (matvec_mxfp4_avx512vbmi.cpp) laid out per group of 8 blocks for its byte permutes, and the
// walk over a row's groups.  A q4_0 kernel of the same shape (an fp16 scale per 18-byte block,
// nibble - 8) shared it until stop 19, when it was removed: from memory it streamed slower than
// the plain AVX-512 q4_0 kernel (see matvec_avx512.cpp).  For gpt-oss's MXFP4 experts the VBMI
// kernel still decodes faster (whole model, 1B-shaped file, slow memory: 41.0-45.3 against
// 39.7-41.7 tok/s in 3 of 4 alternations).
//
// Prepared activations, per group g of 8 blocks (zeros past the last block), 384 bytes:
//   x[0..3]  4 x 64 bytes: lane b / b + 8 of x[0] has elements 0-3 / 4-7 of block 8g + b,
//            x[1] elements 16-19 / 20-23, x[2] 8-11 / 12-15, x[3] 24-27 / 28-31: the partners
//            of the low and high nibbles of the two permutes' bytes;
//   off      16 int32: -bias * (sum of the 16 activations each lane meets), so that the chained
//            VPDPBUSD over the unsigned nibble values (value + bias) started from off yield
//            sum value * x per lane;
//   dx       16 floats: the activation scale of block 8g + (lane mod 8).
//
// Header-only and file-local (unnamed namespace), like prefetch.h, so each file that includes
// it compiles its own copy with its own target flags.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gguf/quantize.h"
#include "kernels/x86/prefetch.h"

namespace plumb::kernels {
namespace {

constexpr size_t kPreparedGroupBytes = 384;  // x[0..3], off, dx

struct GroupLayout {
  int64_t nb, n_groups;  // blocks of 32 in a row, groups of 8 (the last may be partial)
  explicit GroupLayout(int64_t n) : nb(n / 32), n_groups((n / 32 + 7) / 8) {}
};

size_t prepared_x_bytes(int64_t n) { return static_cast<size_t>(GroupLayout(n).n_groups) * kPreparedGroupBytes; }

// Where elements `first` .. first + 3 of a block go in x[0..3]: which vector, for lane b.
struct Quad {
  int vec, first_lo, first_hi;  // elements for lane b and for lane b + 8
};
constexpr Quad kQuads[4] = {{0, 0, 4}, {1, 16, 20}, {2, 8, 12}, {3, 24, 28}};

// The layout above from a row of Q8_0 activations.
void prepare_groups(int64_t n, const void* vxq, void* vxp, int8_t bias) {
  const GroupLayout L(n);
  const auto* xq = static_cast<const gguf::block_q8_0*>(vxq);
  auto* out = static_cast<uint8_t*>(vxp);
  const __m512i biases = _mm512_set1_epi8(bias);
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
    for (int v = 0; v < 4; ++v) s = _mm512_dpbusd_epi32(s, biases, _mm512_load_si512(x + 64 * v));
    _mm512_store_si512(x + 256, _mm512_sub_epi32(_mm512_setzero_si512(), s));
  }
}

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

// One row's dot product, read as one stretch of the thread's linear stream of rows (asking for
// bytes `ahead`, StreamAhead in prefetch.h): group_row(gp, gx, acc) adds group gp's 8 blocks
// (kGroupBytes, all its loads inside them) to acc.  Rows used to be read four at a time, sharing
// each group's activation loads, in the q4_0 kernel of those days: faster hot-cache (MatvecHot/q4_0 30-34 against 25 GB/s) and, on one day's VM, faster decoding (1B q4_0
// tg64, 2 threads, 52.5 against 45.3 tok/s); on another, interleaving even two row streams halved
// what memory delivered (tg64 22-23 against 48-50 tok/s; kernels_bench Matvec/q4_0, one thread,
// 7-10 against 15-17 GB/s), while one stream per thread held up in both.  Every row takes the
// same path, so results do not depend on how rows are split between threads.
//
// Even groups accumulate into acc0 and odd ones into acc1, two named registers: indexing an
// array by g & 1 made GCC keep both on the stack, so every group's FMA waited for the store of
// the one two groups before.  (MatvecHot/q4_0, one thread: 25-26 GB/s before, 27-28 with the
// registers, 30-32 once group_row also stopped loading its first two loads twice.)  The last
// 1-7 blocks are copied into a zeroed group, whose missing blocks add nothing: their prepared
// activations and scales dx are zero.
template <size_t kGroupBytes, size_t kBlockBytes, typename GroupRow>
inline __attribute__((always_inline)) float stream_row(const GroupLayout& L, const uint8_t* row, const uint8_t* xp,
                                                       const StreamAhead& ahead, const GroupRow& group_row) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  const int64_t full = L.nb / 8;
  auto group = [&](int64_t g, __m512& acc) {
    const uint8_t* gp = row + g * kGroupBytes;
    prefetch_stream(ahead(gp), kGroupBytes);
    group_row(gp, GroupX(xp + g * kPreparedGroupBytes), acc);
  };
  int64_t g = 0;
  for (; g + 2 <= full; g += 2) {
    group(g, acc0);
    group(g + 1, acc1);
  }
  if (g < full) group(g++, acc0);
  if (full < L.n_groups) {
    alignas(64) uint8_t tail[kGroupBytes] = {};
    std::memcpy(tail, row + full * kGroupBytes, static_cast<size_t>(L.nb - 8 * full) * kBlockBytes);
    group_row(tail, GroupX(xp + full * kPreparedGroupBytes), full % 2 == 0 ? acc0 : acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

}  // namespace
}  // namespace plumb::kernels
