// kernels/x86/prefetch.h — asks for a byte range in L2 ahead of a decode kernel's reads.
//
// Header-only and file-local (unnamed namespace), like gemm_driver.h, so each per-ISA file
// compiles its own copy with its own flags.
#pragma once

#include <immintrin.h>

#include <cstddef>

namespace plumb::kernels {
namespace {

// How far ahead of its reads a decode kernel that streams its rows one after another asks for
// bytes.  Measured end to end on Zen 4 (1B model, 2 threads, q4_0 and q8_0): 6-8 KB ahead beat
// 4 KB and 12-16 KB, and one row at a time with this prefetch beat eight interleaved rows
// prefetching the next tile by 4-9%: the thread's rows form one linear stream, which the
// hardware prefetcher also follows.  (Four rows read together, each prefetching its own bytes,
// were faster on one day's VM and half as fast on another; see matvec_avx512.cpp.)
inline constexpr size_t kStreamPrefetchBytes = 8192;

// Every cache line of [p, p + n) into L2 (prefetcht1).  Decode kernels ask for the bytes ahead
// of their reads this way: rows of a few KB are too short for the hardware prefetcher to ramp
// up.  A prefetch never faults, so a range past the end of a matrix is harmless.
// REQUIRES: n > 0.
inline void prefetch_l2(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  for (size_t o = 0; o < n; o += 64) _mm_prefetch(c + o, _MM_HINT_T1);
  _mm_prefetch(c + n - 1, _MM_HINT_T1);
}

}  // namespace
}  // namespace plumb::kernels
