// The reference's pseudo-random functions (lm-watermarking, alternative_prf_schemes.py):
// how a context of token ids becomes the 32-bit seed of the green-list generator.
//
// Arithmetic follows what the reference's Python and int64 tensor operations do:
// lefthash multiplies Python integers (unbounded); the others multiply int64 tensors, which
// wrap; Python's `%` floors (never negative); manual_seed keeps the low 32 bits.
//
// Thread safety: all functions are reentrant; the hashint table is built once, on first
// use, under the C++ static-initialisation lock.
#pragma once

#include <cstdint>
#include <span>

#include "plumb/watermark.h"

namespace plumb::watermark {

inline constexpr int64_t kHashintTableSize = 1'000'003;
inline constexpr uint32_t kHashintTableSeed = 2971215073u;

// randperm(1,000,003) from a generator seeded with 2971215073.
std::span<const int32_t> hashint_table();

// table[x mod 1,000,003] + 1, with Python's non-negative modulo.
inline int64_t hashint(int64_t x) {
  int64_t m = x % kHashintTableSize;
  if (m < 0) m += kHashintTableSize;
  return static_cast<int64_t>(hashint_table()[static_cast<size_t>(m)]) + 1;
}

// int64 multiplication as tensors do it: two's-complement wrap-around.
inline int64_t wrap_mul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

// The reference's prf_key for a context (as a Python integer; only lefthash can exceed int64).
// REQUIRES: scheme is a reference scheme and context.size() is its h.
__int128 prf_key(WatermarkScheme scheme, int64_t key, std::span<const int32_t> context);

// Low 32 bits of Python's `prf_key % (2**64 - 1)`: what torch.Generator.manual_seed gives MT19937.
uint32_t seed_from_prf_key(__int128 prf_key);

}  // namespace plumb::watermark
