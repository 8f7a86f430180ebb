// kernels/x86/prefetch.h — asks for a byte range in L2 ahead of a decode kernel's reads.
//
// Header-only and file-local (unnamed namespace), like gemm_driver.h, so each per-ISA file
// compiles its own copy with its own flags.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace plumb::kernels {
namespace {

// Every cache line of [p, p + n) into L2 (prefetcht1).  Decode kernels ask for the next tile's
// rows this way: rows of a few KB are too short for the hardware prefetcher to ramp up.  A
// prefetch never faults, so a range past the end of a matrix is harmless.  REQUIRES: n > 0.
// How far ahead of its reads a decode kernel that streams its rows one after another asks for
// bytes.  Measured end to end on Zen 4 (1B model, 2 threads, q4_0 and q8_0): 6-8 KB ahead beat
// 4 KB and 12-16 KB, and one row at a time with this prefetch beat eight interleaved rows
// prefetching the next tile by 4-9%: the thread's rows form one linear stream, which the
// hardware prefetcher also follows.  The q4_0 / q8_0 kernels that read four rows together keep
// the four-row stream this far ahead (each row asks for its bytes a quarter of it ahead); 4, 16
// and 32 KB measured within noise of 8 KB there.
inline constexpr size_t kStreamPrefetchBytes = 8192;

inline void prefetch_l2(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  for (size_t o = 0; o < n; o += 64) _mm_prefetch(c + o, _MM_HINT_T1);
  _mm_prefetch(c + n - 1, _MM_HINT_T1);
}

// For R rows (ws bytes apart, at w) read together group by group (group_bytes per row): asks
// for group g's share of the four-row stream kStreamPrefetchBytes ahead, that is each row's
// bytes kStreamPrefetchBytes / R on, or past a row's end the same row of the next R rows.
template <int R>
inline void prefetch_rows_ahead(const uint8_t* w, size_t ws, int64_t g, size_t group_bytes) {
  const size_t ahead_groups = (kStreamPrefetchBytes + R * group_bytes - 1) / (R * group_bytes);
  const size_t ahead = (static_cast<size_t>(g) + ahead_groups) * group_bytes;
  const uint8_t* pf = ahead < ws ? w + ahead : w + R * ws + (ahead - ws);
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) prefetch_l2(pf + r * ws, group_bytes);
}

}  // namespace
}  // namespace plumb::kernels
