// Caches that make detection over a corpus cheap: the green test depends only on
// (seed, token), and for plain (not self-salted) schemes a whole green list depends only on
// the seed, which repeats as often as the previous token does.
//
// Thread safety: single-threaded state, owned by one Detector.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace plumb::watermark {

// (seed, token) -> green, open addressing; grows from 4096 slots up to 2^capacity_log2,
// then starts over when half full.
class ResultCache {
 public:
  explicit ResultCache(size_t capacity_log2 = 20) : max_slots_(size_t{1} << capacity_log2) {}
  // -1 unknown, 0 red, 1 green.
  int lookup(uint32_t seed, int32_t token) const {
    if (keys_.empty()) return -1;
    const uint64_t key = make_key(seed, token);
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (state_[i] == 0) return -1;
      if (keys_[i] == key) return state_[i] - 1;
    }
  }
  void insert(uint32_t seed, int32_t token, bool green) {
    if (keys_.empty()) resize(std::min<size_t>(4096, max_slots_));
    if (used_ * 2 > mask_) {
      if (mask_ + 1 < max_slots_) {
        resize((mask_ + 1) * 2);
      } else {
        std::fill(state_.begin(), state_.end(), 0);
        used_ = 0;
      }
    }
    put(make_key(seed, token), green ? 2 : 1);
  }

 private:
  static uint64_t make_key(uint32_t seed, int32_t token) {
    return (uint64_t{seed} << 32) | static_cast<uint32_t>(token);
  }
  size_t slot(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 24) & mask_; }
  void put(uint64_t key, uint8_t state) {
    size_t i = slot(key);
    while (state_[i] != 0 && keys_[i] != key) i = (i + 1) & mask_;
    if (state_[i] == 0) ++used_;
    keys_[i] = key;
    state_[i] = state;
  }
  void resize(size_t slots) {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<uint8_t> old_state = std::move(state_);
    keys_.assign(slots, 0);
    state_.assign(slots, 0);
    mask_ = slots - 1;
    used_ = 0;
    for (size_t i = 0; i < old_state.size(); ++i)
      if (old_state[i] != 0) put(old_keys[i], old_state[i]);
  }
  size_t max_slots_;
  size_t mask_ = 0;
  size_t used_ = 0;
  std::vector<uint64_t> keys_;
  std::vector<uint8_t> state_;
};

// seed -> green list as a bitset over the vocabulary, at most `budget_bytes` in all, CLOCK
// eviction.  A list is built only for a seed seen before (admission filter), because one
// token's test costs less than a whole list.
class BitsetCache {
 public:
  // Memory is taken as lists are stored, up to budget_bytes.
  BitsetCache(int32_t vocab_size, size_t budget_bytes)
      : words_((static_cast<size_t>(vocab_size) + 63) / 64),
        capacity_(std::max<size_t>(1, budget_bytes / (words_ * 8))) {}

  // The bytes one list takes for a vocabulary size.
  static size_t list_bytes(int32_t vocab_size) { return (static_cast<size_t>(vocab_size) + 63) / 64 * 8; }
  size_t capacity() const { return capacity_; }

  // The bitset for `seed`, or nullptr when absent.
  const uint64_t* find(uint32_t seed) {
    auto it = slot_of_.find(seed);
    if (it == slot_of_.end()) return nullptr;
    referenced_[it->second] = 1;
    return bits_[it->second].get();
  }
  // True when a list for `seed` is worth building (seen before).
  bool admit(uint32_t seed) {
    if (seen_once_.size() > 4 * capacity_ + 4096) seen_once_.clear();
    return !seen_once_.insert(seed).second;
  }
  // Stores the green list `ids` for seed and returns its bitset.
  const uint64_t* store(uint32_t seed, const std::vector<int32_t>& ids) {
    size_t s;
    if (bits_.size() < capacity_) {
      s = bits_.size();
      bits_.push_back(std::make_unique<uint64_t[]>(words_));
      seed_of_.push_back(seed);
      referenced_.push_back(1);
    } else {
      while (referenced_[hand_]) {
        referenced_[hand_] = 0;
        hand_ = (hand_ + 1) % capacity_;
      }
      s = hand_;
      hand_ = (hand_ + 1) % capacity_;
      slot_of_.erase(seed_of_[s]);
      std::fill(bits_[s].get(), bits_[s].get() + words_, 0);
      seed_of_[s] = seed;
      referenced_[s] = 1;
    }
    slot_of_[seed] = static_cast<uint32_t>(s);
    uint64_t* b = bits_[s].get();
    for (int32_t id : ids) b[static_cast<uint32_t>(id) >> 6] |= uint64_t{1} << (id & 63);
    return b;
  }
  static bool test(const uint64_t* bits, int32_t id) { return (bits[static_cast<uint32_t>(id) >> 6] >> (id & 63)) & 1; }

 private:
  size_t words_;
  size_t capacity_;
  size_t hand_ = 0;
  std::vector<std::unique_ptr<uint64_t[]>> bits_;
  std::vector<uint32_t> seed_of_;
  std::vector<uint8_t> referenced_;
  std::unordered_map<uint32_t, uint32_t> slot_of_;
  std::unordered_set<uint32_t> seen_once_;
};

}  // namespace plumb::watermark
