#include "watermark/randperm.h"

#include <algorithm>
#include <numeric>

#include "watermark/mt19937.h"

namespace plumb::watermark {

FastModTable::FastModTable(uint32_t n, uint32_t steps) : n_(n), magic_(std::min(steps, n)) {
  for (uint32_t i = 0; i < magic_.size(); ++i) magic_[i] = fastmod_magic(n - i);
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

bool in_perm_prefix(uint32_t seed, uint32_t n, uint32_t k, uint32_t token, const FastModTable& table) {
  if (token >= n) return false;
  if (k >= n) return true;
  const uint32_t steps = prefix_steps(n, k);
  const uint64_t* magic = table.magic();
  Mt19937 gen(seed);
  // The token sits at position p >= i until a step moves it to position i, where it stays:
  // step i swaps r[i] and r[i + z]; if i + z == p the token lands at i (final); if i == p
  // (and z != 0) it moves forward to i + z.
  uint32_t p = token;
  uint32_t i = 0;
  while (i < steps) {
    const uint32_t* block = gen.next_block();
    const uint32_t end = std::min<uint32_t>(steps, i + Mt19937::kN);
    const uint32_t base = i;  // block[i - base] is the output for step i
    for (; i < end; ++i) {
      const uint32_t z = fastmod(block[i - base], magic[i], n - i);
      if (i + z == p) return true;
      if (i == p) p = i + z;
    }
  }
  return false;
}

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
  const uint64_t* magic = table.magic();
  Mt19937 gen(seed);
  uint32_t i = 0;
  while (i < steps) {
    const uint32_t* block = gen.next_block();
    const uint32_t end = std::min<uint32_t>(steps, i + Mt19937::kN);
    const uint32_t base = i;
    for (; i < end; ++i) {
      const uint32_t j = i + fastmod(block[i - base], magic[i], n - i);
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
