// SentencePiece-style encoding (llama.cpp's llm_tokenizer_spm): start from UTF-8 characters
// and repeatedly merge the adjacent pair whose concatenation is the highest-scoring token
// (ties: leftmost first); leftovers become byte tokens (<0xNN>).
#include <algorithm>
#include <queue>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"
#include "tokenizer/word_cache.h"

namespace plumb::tok {

namespace {
constexpr size_t kMaxWordBytes = size_t{1} << 31;
struct Symbol {
  uint32_t start;
  uint32_t len;
  int32_t prev;
  int32_t next;
};
struct Bigram {
  float score;
  int32_t left;
  int32_t right;
  uint32_t size;
};
struct BigramLess {
  bool operator()(const Bigram& l, const Bigram& r) const {
    return l.score < r.score || (l.score == r.score && l.left > r.left);
  }
};
}  // namespace

void VocabTokenizer::encode_spm(std::string_view text, std::vector<TokenId>* out) const {
  // Merges never join a character to a following "\u2581" unless some token contains that
  // pair, so the text splits there into independent words (same result, much less work
  // than one priority queue over the whole text).
  size_t word_start = 0, prev_start = 0;
  for (size_t off = 0; off < text.size();) {
    const size_t n = std::min(utf8_len(static_cast<uint8_t>(text[off])), text.size() - off);
    if (off > word_start && text.compare(off, kSpmSpace.size(), kSpmSpace) == 0) {
      const std::string_view prev = text.substr(prev_start, off - prev_start);
      if (is_valid_utf8(prev) && spm_joiner_map_.find(prev) < 0) {
        encode_spm_word(text.substr(word_start, off - word_start), out);
        word_start = off;
      }
    }
    prev_start = off;
    off += n;
  }
  if (word_start < text.size()) encode_spm_word(text.substr(word_start), out);
}

void VocabTokenizer::encode_spm_word(std::string_view text, std::vector<TokenId>* out) const {
  if (text.empty()) return;
  if (text.size() > kMaxWordBytes) {  // symbol offsets are 32-bit: such a "word" is all byte tokens
    for (char c : text) {
      const TokenId b = byte_fallback(static_cast<uint8_t>(c));
      if (b != kNoToken) out->push_back(b);
    }
    return;
  }
  WordCache& cache = WordCache::for_owner(cache_owner_);
  if (cache.lookup(text, out)) return;
  const size_t first_out = out->size();
  std::vector<Symbol> syms;
  syms.reserve(text.size());
  for (size_t off = 0; off < text.size();) {
    const uint32_t n = static_cast<uint32_t>(std::min(utf8_len(static_cast<uint8_t>(text[off])), text.size() - off));
    const int32_t idx = static_cast<int32_t>(syms.size());
    syms.push_back({static_cast<uint32_t>(off), n, idx - 1, off + n == text.size() ? -1 : idx + 1});
    off += n;
  }

  std::vector<Bigram> heap_storage;
  heap_storage.reserve(syms.size());
  std::priority_queue<Bigram, std::vector<Bigram>, BigramLess> queue(BigramLess{}, std::move(heap_storage));
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t size = syms[left].len + syms[right].len;
    const TokenId id = find_token(text.substr(syms[left].start, size));
    if (id == kNoToken) return;
    queue.push({v_.scores[id], left, right, size});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = syms[b.left];
    Symbol& r = syms[b.right];
    // Skip pairs that changed since they were queued.
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = syms[i].next) {
    const Symbol& s = syms[i];
    const std::string_view piece = text.substr(s.start, s.len);
    const TokenId id = find_token(piece);
    if (id != kNoToken) {
      out->push_back(id);
      continue;
    }
    for (char c : piece) {
      const TokenId b = byte_fallback(static_cast<uint8_t>(c));
      if (b != kNoToken) out->push_back(b);
    }
  }
  cache.store(text, out->data() + first_out, out->size() - first_out);
}

}  // namespace plumb::tok
