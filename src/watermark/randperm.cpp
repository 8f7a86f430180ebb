#include "watermark/randperm.h"

#include <algorithm>
#include <numeric>

#include "watermark/mt19937.h"

namespace plumb::watermark {

FastModTable::FastModTable(uint32_t n, uint32_t steps)
    : n_(n), magic_(std::min(steps, n)), reciprocal_(std::min(steps, n)) {
  for (uint32_t i = 0; i < magic_.size(); ++i) {
    magic_[i] = fastmod_magic(n - i);
    reciprocal_[i] = 1.0 / static_cast<double>(n - i);
  }
}

// The hot loops get an AVX2 clone next to the baseline one (chosen at load time), so the
// generator's twist and the remainders run 4-8 lanes wide where the CPU allows.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PLUMB_WM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PLUMB_WM_CLONES
#endif

namespace {

// u % d for u < 2^32 and 1 <= d < 2^31, in doubles: q = u * (1/d) rounded to the nearest
// integer (adding and subtracting 2^52 rounds; u / d < 2^32 keeps it exact up to the rounding
// of 1/d), then one correction.  u * (1/d) is within 2^-20 of u / d, so q is floor(u / d) or
// one more, and r = u - q d (exact: every term is an integer below 2^53) lands in [-d, d);
// a negative r gets d added.  Written branch-free so the loop vectorises.
inline void targets_impl(const uint32_t* u, uint32_t first, uint32_t count, uint32_t n, const double* reciprocal,
                         uint32_t* out) {
  constexpr double kRound = 0x1p52;
  const double* rec = reciprocal + first;  // size_t indices below: provably contiguous loads
  const double d0 = static_cast<double>(n - first);
  const auto d0i = static_cast<int32_t>(n - first);
  for (size_t s = 0; s < count; ++s) {
    const auto si = static_cast<int32_t>(s);
    // Unsigned 32-bit to double via the signed conversion (the only one SSE2/AVX2 vectorise).
    const double ud = static_cast<double>(static_cast<int32_t>(u[s] ^ 0x80000000u)) + 2147483648.0;
    const double d = d0 - static_cast<double>(si);
    const double q = (ud * rec[s] + kRound) - kRound;
    auto r = static_cast<int32_t>(ud - q * d);  // an integer in [-d, d): exact
    r += (r >> 31) & (d0i - si);                 // in integers: no branch, so it vectorises
    out[s] = static_cast<uint32_t>(static_cast<int32_t>(first) + si + r);
  }
}

}  // namespace

PLUMB_WM_CLONES
void step_targets(const uint32_t* u, uint32_t first, uint32_t count, const FastModTable& table, uint32_t* out) {
  targets_impl(u, first, count, table.n(), table.reciprocal(), out);
}

std::vector<int32_t> randperm(uint32_t seed, int32_t n) {
  std::vector<int32_t> r(static_cast<size_t>(std::max(n, 0)));
  std::iota(r.begin(), r.end(), 0);
  Mt19937 gen(seed);
  for (int64_t i = 0; i + 1 < n; ++i) {
    const uint32_t z = gen.next() % static_cast<uint32_t>(n - i);
    std::swap(r[static_cast<size_t>(i)], r[static_cast<size_t>(i + z)]);
  }
  return r;
}

PLUMB_WM_CLONES
bool in_perm_prefix(uint32_t seed, uint32_t n, uint32_t k, uint32_t token, const FastModTable& table) {
  if (token >= n) return false;
  if (k >= n) return true;
  const uint32_t steps = prefix_steps(n, k);
  Mt19937 gen(seed);
  // The token sits at position p >= i until a step moves it to position i, where it stays:
  // step i swaps r[i] and r[i + z]; if i + z == p the token lands at i (final); if i == p
  // (and z != 0) it moves forward to i + z.  So: find the first step before p whose target
  // is p (green); failing that, at step p the token moves on to that step's target.
  uint32_t target[Mt19937::kN];
  uint32_t p = token;
  for (uint32_t base = 0; base < steps; base += Mt19937::kN) {
    const uint32_t len = std::min<uint32_t>(steps - base, Mt19937::kN);
    targets_impl(gen.next_block(), base, len, n, table.reciprocal(), target);
    uint32_t s = 0;
    while (s < len) {
      // Steps s .. stop-1 of this block; the last is step p when p falls in the block.
      const uint32_t stop = p - base < len ? p - base + 1 : len;
      // Count the hits without branches (vectorised); locate one only when there is one
      // (about once per green token).
      uint32_t hits = 0;
      for (uint32_t t = s; t < stop; ++t) hits += target[t] == p;
      if (hits != 0) return true;
      s = stop;
      if (p - base < len) p = target[p - base];  // no hit up to step p, which moved the token on
    }
  }
  return false;
}

PLUMB_WM_CLONES
void perm_prefix(uint32_t seed, uint32_t n, uint32_t k, const FastModTable& table, PermScratch& scratch,
                 std::vector<int32_t>& out) {
  const uint32_t len = std::min(k, n);
  out.resize(len);
  if (len == 0) return;
  if (scratch.slot.size() < n) {
    scratch.slot.assign(n, 0);
    scratch.current = 0;
  }
  if (++scratch.current == 0) {  // epoch wrapped: clear once every 2^32 lists
    std::fill(scratch.slot.begin(), scratch.slot.end(), 0);
    scratch.current = 1;
  }
  const uint64_t tag = uint64_t{scratch.current} << 32;
  uint64_t* slot = scratch.slot.data();
  auto get = [&](uint32_t pos) -> int32_t {
    const uint64_t v = slot[pos];
    return (v & 0xFFFFFFFF00000000ull) == tag ? static_cast<int32_t>(static_cast<uint32_t>(v)) : static_cast<int32_t>(pos);
  };

  const uint32_t steps = prefix_steps(n, k);
  scratch.target.resize(Mt19937::kN);
  uint32_t* target = scratch.target.data();
  Mt19937 gen(seed);
  // The swap targets depend only on the generator, not on the swaps: compute a block of them
  // first (vectorised), then walk it prefetching the target slots ahead (at V = 128k the
  // slots span 1 MiB).
  constexpr uint32_t kAhead = 24;
  uint32_t i = 0;
  while (i < steps) {
    const uint32_t* block = gen.next_block();
    const uint32_t end = std::min<uint32_t>(steps, i + Mt19937::kN);
    const uint32_t base = i;
    targets_impl(block, base, end - base, n, table.reciprocal(), target);
    for (uint32_t s = i; s < std::min(end, i + kAhead); ++s) __builtin_prefetch(slot + target[s - base]);
    for (; i < end; ++i) {
      if (i + kAhead < end) __builtin_prefetch(slot + target[i + kAhead - base]);
      const uint32_t j = target[i - base];
      const int32_t vi = get(i);
      out[i] = get(j);
      // Position i is final (written to out); only j needs to remember what it now holds.
      slot[j] = tag | static_cast<uint32_t>(vi);
    }
  }
  // k >= n: the last position was never a swap source; it holds what is left there.
  for (; i < len; ++i) out[i] = get(i);
}

}  // namespace plumb::watermark
