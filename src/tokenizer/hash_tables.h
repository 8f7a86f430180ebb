// tokenizer/hash_tables.h — flat open-addressing tables for the tokenizer hot paths
// (string -> id lookups without allocating, and (left, right) -> merge lookups).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace plumb::tok {

// Maps strings (owned elsewhere, in a vector that must outlive the map and not change)
// to their index.  When a string occurs twice the first index wins.
class StringIdMap {
 public:
  void build(const std::vector<std::string>& strings) {
    strings_ = &strings;
    size_t cap = 16;
    while (cap < strings.size() * 2) cap <<= 1;
    slots_.assign(cap, -1);
    for (size_t i = 0; i < strings.size(); ++i) insert_index(static_cast<int32_t>(i));
  }
  // Adds strings.back() (the caller just appended it); returns its id or the existing one.
  int32_t add_last() {
    const int32_t id = static_cast<int32_t>(strings_->size() - 1);
    if ((count_ + 1) * 2 > slots_.size()) rehash(slots_.size() * 2);
    return insert_index(id);
  }
  int32_t find(std::string_view s) const {
    if (slots_.empty()) return -1;
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash(s) & mask;; i = (i + 1) & mask) {
      const int32_t id = slots_[i];
      if (id < 0) return -1;
      if ((*strings_)[id] == s) return id;
    }
  }

 private:
  static size_t hash(std::string_view s) { return std::hash<std::string_view>{}(s); }
  int32_t insert_index(int32_t id) {
    const std::string& s = (*strings_)[id];
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash(s) & mask;; i = (i + 1) & mask) {
      if (slots_[i] < 0) {
        slots_[i] = id;
        ++count_;
        return id;
      }
      if ((*strings_)[slots_[i]] == s) return slots_[i];
    }
  }
  void rehash(size_t cap) {
    std::vector<int32_t> old;
    old.swap(slots_);
    slots_.assign(cap, -1);
    count_ = 0;
    for (int32_t id : old) {
      if (id >= 0) insert_index(id);
    }
  }
  const std::vector<std::string>* strings_ = nullptr;
  std::vector<int32_t> slots_;
  size_t count_ = 0;
};

// (left id, right id) -> (rank, merged id).  Keys are unique; the first insert wins.
class PairMap {
 public:
  struct Value {
    int32_t rank;
    int32_t merged;
  };
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    keys_.assign(cap, kEmpty);
    values_.assign(cap, Value{0, 0});
  }
  void insert(int32_t left, int32_t right, Value v) {
    const uint64_t key = make_key(left, right);
    const size_t mask = keys_.size() - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
      if (keys_[i] == kEmpty) {
        keys_[i] = key;
        values_[i] = v;
        return;
      }
      if (keys_[i] == key) return;
    }
  }
  const Value* find(int32_t left, int32_t right) const {
    if (keys_.empty()) return nullptr;
    const uint64_t key = make_key(left, right);
    const size_t mask = keys_.size() - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t make_key(int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }
  static uint64_t mix(uint64_t x) {  // splitmix64 finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
  std::vector<uint64_t> keys_;
  std::vector<Value> values_;
};

}  // namespace plumb::tok
