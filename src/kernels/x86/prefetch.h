// kernels/x86/prefetch.h — asks for a byte range ahead of a kernel's reads.
//
// Header-only and file-local (unnamed namespace), like gemm_driver.h, so each per-ISA file
// compiles its own copy with its own flags.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace plumb::kernels {
namespace {

// How far ahead of its reads a decode kernel that streams its rows one after another asks for
// bytes.  In-process A/B on Zen 4 (2026-11-26): one thread streaming q4_0 from memory read 0.83,
// 0.91, 0.94, 0.94 and 0.86 of a one-thread probe at 4, 8, 12, 16 and 24 KB ahead; q8_0 read the
// probe at 8 and 12 KB alike.  The thread's rows form one linear stream, which the hardware
// prefetcher also follows.
inline constexpr size_t kStreamPrefetchBytes = 12288;

// Every cache line of [p, p + n) into L1, marked non-temporal (prefetchnta): the decode
// kernels' stream.  Each weight byte is read once per token, so it goes where the loads that
// need it will look and displaces nothing worth keeping.  Against prefetcht1 (into L2, where
// the loads then miss L1), whole-model decode on Zen 4 with fast memory (probe ~72 GB/s, 2
// threads, 1B files) went from 0.74 to 0.84-0.86 of the probe for q4_0; slow memory gained
// 2-5%.  Rows of a few KB are too short for the hardware prefetcher to ramp up on its own.
// A prefetch never faults, so a range past the end of a matrix is harmless.
// (GCC 12 deletes a loop of _mm_prefetch that sits under a run-time condition as a loop with
// no effect; check the object code when moving one into a branch.)
// REQUIRES: n > 0.
inline void prefetch_stream(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  for (size_t o = 0; o < n; o += 64) _mm_prefetch(c + o, _MM_HINT_NTA);
  _mm_prefetch(c + n - 1, _MM_HINT_NTA);
}

// Where a decode call asks for the `span` bytes it reads next: kStreamPrefetchBytes (or `dist`)
// ahead of the bytes it reads now, but never past the end of its own rows.  A thread's run of
// rows (parallel_guided in kernels.cpp) usually ends where the other thread's run begins, or at a
// matrix's end; bytes asked for there are fetched twice or for nothing, and their lines crowd
// the loads that matter out of L1.  Bounding the prefetch took whole-model q4_0 decoding
// (1B file, 2 threads, in-process A/B on Zen 5) from 0.79-0.83 to 0.83-0.89 of the probe with
// fast memory, +5-6% token for token; asking for a run's first bytes as it starts added nothing
// measurable.
class StreamAhead {
 public:
  // The call reads nr rows of row_bytes each, ws apart, from `rows`; it asks for span bytes at a time.
  StreamAhead(const void* rows, size_t ws, int nr, size_t row_bytes, size_t span) {
    const size_t total = nr > 0 ? static_cast<size_t>(nr - 1) * ws + row_bytes : 0;
    last_ = reinterpret_cast<uintptr_t>(rows) + (total > span ? total - span : 0);
  }
  // The place to ask for the span after the bytes at p.
  const char* operator()(const void* p, size_t dist = kStreamPrefetchBytes) const {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p) + dist;
    return reinterpret_cast<const char*>(a < last_ ? a : last_);
  }

 private:
  uintptr_t last_;
};

// Every cache line of [p, p + n) into L2 (prefetcht1): for the prompt-processing panels, whose
// rows are read several times while they are repacked, and the tiles that prefetch their next
// tile's rows.
// REQUIRES: n > 0.
inline void prefetch_l2(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  for (size_t o = 0; o < n; o += 64) _mm_prefetch(c + o, _MM_HINT_T1);
  _mm_prefetch(c + n - 1, _MM_HINT_T1);
}

}  // namespace
}  // namespace plumb::kernels
