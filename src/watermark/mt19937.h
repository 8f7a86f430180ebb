// MT19937 (32-bit Mersenne Twister), bit-exact with std::mt19937 and with PyTorch's CPU
// generator (at::mt19937), which seeds it with the low 32 bits of the 64-bit seed given to
// torch.Generator.manual_seed.
//
// Written for the watermark's hot loop: outputs come a block of 624 at a time into a
// caller-visible buffer so that the consumer loop has no per-call branch on the state index,
// and the twist is split into the two ranges whose dependencies let the compiler vectorise.
//
// Thread safety: plain value type; one per thread.
#pragma once

#include <cstdint>

namespace plumb::watermark {

class Mt19937 {
 public:
  static constexpr int kN = 624;
  static constexpr int kM = 397;

  explicit Mt19937(uint32_t seed = 5489u) { seed_with(seed); }

  // Same state as std::mt19937(seed).
  void seed_with(uint32_t seed) {
    uint32_t x = seed;
    mt_[0] = x;
    for (uint32_t i = 1; i < kN; ++i) {
      x = 1812433253u * (x ^ (x >> 30)) + i;
      mt_[i] = x;
    }
    pos_ = kN;
  }

  uint32_t next() {
    if (pos_ == kN) refill();
    return out_[pos_++];
  }

  // Generates the next 624 tempered outputs into block() and returns it; next() then
  // continues after them.  Mixing next() and next_block() keeps the stream in order only
  // at block boundaries, so a consumer uses one or the other.
  const uint32_t* next_block() {
    refill();
    pos_ = kN;
    return out_;
  }

 private:
  static uint32_t mix(uint32_t hi, uint32_t lo, uint32_t far) {
    const uint32_t y = (hi & 0x80000000u) | (lo & 0x7fffffffu);
    return far ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
  }

  void refill() {
    // Two loops: in the first, mt_[i + kM] is still the old state; in the second, mt_[i + kM - kN]
    // was written 227 iterations earlier, so both vectorise.
    for (int i = 0; i < kN - kM; ++i) mt_[i] = mix(mt_[i], mt_[i + 1], mt_[i + kM]);
    for (int i = kN - kM; i < kN - 1; ++i) mt_[i] = mix(mt_[i], mt_[i + 1], mt_[i + kM - kN]);
    mt_[kN - 1] = mix(mt_[kN - 1], mt_[0], mt_[kM - 1]);
    for (int i = 0; i < kN; ++i) {
      uint32_t y = mt_[i];
      y ^= y >> 11;
      y ^= (y << 7) & 0x9d2c5680u;
      y ^= (y << 15) & 0xefc60000u;
      y ^= y >> 18;
      out_[i] = y;
    }
    pos_ = 0;
  }

  uint32_t mt_[kN];
  uint32_t out_[kN];
  int pos_ = kN;
};

}  // namespace plumb::watermark
