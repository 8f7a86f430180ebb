// Byte-level BPE (llama.cpp's llm_tokenizer_bpe): pre-tokenizer split, GPT-2 byte mapping,
// then per word repeatedly apply the lowest-ranked merge (ties: leftmost first).
#include <algorithm>
#include <queue>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"
#include "tokenizer/word_cache.h"

namespace plumb::tok {

namespace {
constexpr size_t kMaxWordBytes = size_t{1} << 31;
struct Symbol {
  int32_t sid;  // id in strings_ of the symbol's text, -1 when no merge mentions it
  uint32_t start;
  uint32_t len;
  int32_t prev;
  int32_t next;
};
struct Bigram {
  int32_t rank;
  int32_t left;
  int32_t right;
  int32_t merged;
  uint32_t size;
};
struct BigramGreater {
  bool operator()(const Bigram& l, const Bigram& r) const {
    return l.rank > r.rank || (l.rank == r.rank && l.left > r.left);
  }
};
}  // namespace

void VocabTokenizer::encode_bpe(std::string_view text, std::vector<TokenId>* out) const {
  // The splitter sees code points: malformed bytes become U+FFFD first (as in llama.cpp).
  std::string canonical, pcre_safe;
  canonicalize_utf8(text, &canonical, &pcre_safe);
  std::vector<std::pair<size_t, size_t>> words;
  if (pre_.empty()) {
    words.emplace_back(size_t{0}, canonical.size());
  } else {
    pre_.split(pcre_safe.empty() ? canonical : pcre_safe, &words);
  }
  std::string encoded;
  for (const auto& [b, e] : words) {
    const std::string_view word(canonical.data() + b, e - b);
    if (!v_.byte_encode) {
      encode_bpe_word(word, out);
      continue;
    }
    encoded.clear();
    for (char c : word) encoded.append(byte_to_unicode(static_cast<uint8_t>(c)));
    encode_bpe_word(encoded, out);
  }
}

void VocabTokenizer::encode_bpe_word(std::string_view word, std::vector<TokenId>* out) const {
  if (word.empty()) return;
  if (word.size() > kMaxWordBytes) {  // symbol offsets are 32-bit: such a word is all byte tokens
    for (char c : word) {
      const TokenId id = v_.byte_encode ? single_byte_tokens_[static_cast<uint8_t>(c)] : byte_tokens_[static_cast<uint8_t>(c)];
      if (id != kNoToken) out->push_back(id);
    }
    return;
  }
  if (v_.ignore_merges) {
    const TokenId id = find_token(word);
    if (id != kNoToken) {
      out->push_back(id);
      return;
    }
  }
  WordCache& cache = WordCache::for_owner(cache_owner_);
  if (cache.lookup(word, out)) return;
  const size_t first_out = out->size();
  thread_local std::vector<Symbol> syms;
  thread_local std::vector<Bigram> heap;
  syms.clear();
  heap.clear();
  for (size_t off = 0; off < word.size();) {
    const uint32_t n = static_cast<uint32_t>(std::min(utf8_len(static_cast<uint8_t>(word[off])), word.size() - off));
    const int32_t idx = static_cast<int32_t>(syms.size());
    syms.push_back({map_.find(word.substr(off, n)), static_cast<uint32_t>(off), n, idx - 1,
                    off + n == word.size() ? -1 : idx + 1});
    off += n;
  }
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = syms[left];
    const Symbol& r = syms[right];
    if (l.sid < 0 || r.sid < 0) return;
    const PairMap::Value* m = merges_.find(l.sid, r.sid);
    if (m == nullptr) return;
    heap.push_back({m->rank, left, right, m->merged, l.len + r.len});
    std::push_heap(heap.begin(), heap.end(), BigramGreater{});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), BigramGreater{});
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& l = syms[b.left];
    Symbol& r = syms[b.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;  // stale
    l.len += r.len;
    l.sid = b.merged;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = syms[i].next) {
    const Symbol& s = syms[i];
    if (s.sid >= 0 && s.sid < n_vocab_) {
      out->push_back(s.sid);
      continue;
    }
    // Not a token: fall back to tokens that are single raw bytes of the (mapped) text,
    // skipping bytes that have none (llama.cpp does the same).
    for (size_t k = s.start; k < s.start + s.len; ++k) {
      const uint8_t c = static_cast<uint8_t>(word[k]);
      const TokenId id = v_.byte_encode ? single_byte_tokens_[c] : byte_tokens_[c];
      if (id != kNoToken) out->push_back(id);
    }
  }
  cache.store(word, out->data() + first_out, out->size() - first_out);
}

}  // namespace plumb::tok
