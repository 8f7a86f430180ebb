// tokenizer/word_cache.h — per-thread memo of word -> token ids.  Pre-tokenized words repeat
// a lot in real text; the cache changes no result, only skips recomputing it.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "plumb/tokenizer.h"

namespace plumb::tok {

class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 48;
  static constexpr size_t kMaxEntries = 1 << 16;

  // A number that no other tokenizer instance in this process gets.
  static uint64_t new_owner_id() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1);
  }
  // This thread's cache for tokenizer `owner` (emptied when the thread switches tokenizer).
  static WordCache& for_owner(uint64_t owner) {
    thread_local WordCache cache;
    if (cache.owner_ != owner) {
      cache.map_.clear();
      cache.owner_ = owner;
    }
    return cache;
  }

  // Appends the cached ids for `word` to `out`; false when absent.
  bool lookup(std::string_view word, std::vector<TokenId>* out) const {
    if (word.size() > kMaxWordBytes) return false;
    auto it = map_.find(word);
    if (it == map_.end()) return false;
    out->insert(out->end(), it->second.begin(), it->second.end());
    return true;
  }
  void store(std::string_view word, const TokenId* ids, size_t n) {
    if (word.size() > kMaxWordBytes) return;
    if (map_.size() >= kMaxEntries) map_.clear();
    map_.emplace(std::string(word), std::vector<TokenId>(ids, ids + n));
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };
  uint64_t owner_ = 0;
  std::unordered_map<std::string, std::vector<TokenId>, Hash, Eq> map_;
};

}  // namespace plumb::tok
