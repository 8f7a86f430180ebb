// torch.randperm(n, generator=g) on the CPU, as the reference watermark uses it, plus the
// shortcuts that make detection fast.
//
// The reference algorithm (PyTorch 1.13+ CPU, n < 2^32): r = 0..n-1, then forward
// Fisher–Yates: for i in 0..n-2: z = next_u32() % (n - i); swap(r[i], r[i + z]).
// Position i is final after step i, so the first k entries (a green list) need only k steps,
// and whether one token lands in the first k needs only its own position (no array at all).
//
// Thread safety: functions are reentrant; a FastModTable is immutable after construction
// and may be shared; a PermScratch is per-thread state.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace plumb::watermark {

// Lemire's division-free remainder for 32-bit operands: with m = floor((2^64 - 1) / d) + 1,
// a % d == ((m * a mod 2^64) * d) >> 64 exactly for every a, d < 2^32 (d = 1 gives m = 0).
inline uint64_t fastmod_magic(uint32_t d) { return UINT64_C(0xFFFFFFFFFFFFFFFF) / d + 1; }
inline uint32_t fastmod(uint32_t a, uint64_t magic, uint32_t d) {
  const uint64_t low = magic * a;
  return static_cast<uint32_t>((static_cast<unsigned __int128>(low) * d) >> 64);
}

// Per-step constants for the divisors n, n-1, ..., n-steps+1 of the first `steps` shuffle
// steps: Lemire's magic numbers (exact scalar remainders) and reciprocals (a block of
// remainders at a time in SIMD double arithmetic, see step_targets).
class FastModTable {
 public:
  FastModTable(uint32_t n, uint32_t steps);
  uint32_t n() const { return n_; }
  uint32_t steps() const { return static_cast<uint32_t>(magic_.size()); }
  const uint64_t* magic() const { return magic_.data(); }
  const double* reciprocal() const { return reciprocal_.data(); }

 private:
  uint32_t n_;
  std::vector<uint64_t> magic_;
  std::vector<double> reciprocal_;  // 1.0 / (n - i)
};

// Swap targets of shuffle steps first .. first+count-1: out[s] = i + u[s] % (n - i) with
// i = first + s, from the generator outputs u.  The targets depend only on the generator,
// never on earlier swaps, so a whole block is computed at once, vectorised.
// REQUIRES: first + count <= table.steps(), n - first - count + 1 >= 1.
void step_targets(const uint32_t* u, uint32_t first, uint32_t count, const FastModTable& table, uint32_t* out);

// The whole permutation (reference randperm).  REQUIRES: n >= 0.
std::vector<int32_t> randperm(uint32_t seed, int32_t n);

// The number of shuffle steps after which positions [0, k) are final: min(k, n - 1), 0 for n < 2.
inline uint32_t prefix_steps(uint32_t n, uint32_t k) {
  if (n < 2) return 0;
  return k < n - 1 ? k : n - 1;
}

// Whether `token` ends up in positions [0, k) of randperm(n) seeded with `seed`, tracking
// only that token's position.  `table` must have n() == n and steps() >= prefix_steps(n, k).
// Cost: at most k generator outputs and remainders, no memory.
bool in_perm_prefix(uint32_t seed, uint32_t n, uint32_t k, uint32_t token, const FastModTable& table);

// Reusable memory for perm_prefix: the value of each touched position with the epoch that
// wrote it (one 64-bit word, so a lookup is one cache miss), so the O(n) array never needs
// clearing between lists.  (Measured: 4-byte slots zeroed after each list are slower at
// V = 128k; the zeroing stores cost more than the larger array.)
struct PermScratch {
  std::vector<uint64_t> slot;  // epoch << 32 | value
  uint32_t current = 0;
  std::vector<uint32_t> target;  // the swap target of every step in a block
};

// Writes the first k entries of randperm(n) seeded with `seed` to out (resized to
// min(k, n)), in permutation order, in O(k) time after the scratch is sized.
void perm_prefix(uint32_t seed, uint32_t n, uint32_t k, const FastModTable& table, PermScratch& scratch,
                 std::vector<int32_t>& out);

}  // namespace plumb::watermark
