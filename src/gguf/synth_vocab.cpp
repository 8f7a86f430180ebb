// The generated vocabulary of synthetic models (see synth.h).
#include <cstdio>
#include <string>
#include <unordered_set>

#include "gguf/synth.h"

namespace plumb::gguf {

namespace {

constexpr const char* kSpace = "\xE2\x96\x81";  // U+2581 '▁', SentencePiece's word marker

// Frequent words of simple English stories, so that text like "Once upon a time" maps to
// whole-word pieces rather than single characters.
constexpr const char* kWords[] = {
    "the", "and", "was", "to", "a", "he", "she", "they", "it", "of", "in", "with", "said", "his", "her",
    "you", "on", "for", "that", "had", "but", "is", "not", "so", "were", "very", "day", "time", "once",
    "upon", "there", "little", "girl", "boy", "named", "big", "wanted", "play", "happy", "saw", "went",
    "mom", "friend", "friends", "loved", "liked", "one", "all", "up", "out", "be", "at", "what", "do",
    "have", "can", "we", "me", "my", "are", "this", "tree", "sun", "park", "ball", "dog", "cat", "bird",
    "fun", "good", "help", "home", "look", "came", "made", "found", "thought", "felt", "smiled", "sad",
    "red", "blue", "house", "toy", "away", "back", "together", "from", "other", "sky", "water", "run",
    "lily", "tim", "ben", "sue", "hello", "world", "yes", "no", "how", "why", "when", "where", "who",
};

constexpr const char* kConsonants[] = {"b", "c", "d", "f", "g", "h", "k", "l", "m", "n",
                                       "p", "r", "s", "t", "v", "w", "z", "ch", "sh", "th"};
constexpr const char* kVowels[] = {"a", "e", "i", "o", "u", "y"};

class Builder {
 public:
  explicit Builder(int n) : n_(static_cast<size_t>(n)) {}
  bool full() const { return v_.tokens.size() >= n_; }
  void add(const std::string& piece, float score, int32_t type) {
    if (full() || !seen_.insert(piece).second) return;
    v_.tokens.push_back(piece);
    v_.scores.push_back(score);
    v_.token_types.push_back(type);
  }
  // A piece with all its prefixes (after the leading ▁, if any) so merges can reach it.
  void add_with_prefixes(const std::string& piece) {
    const size_t start = piece.rfind(kSpace, 0) == 0 ? 3 : 0;
    for (size_t len = start + 1; len <= piece.size(); ++len) add_piece(piece.substr(0, len));
  }
  void add_piece(const std::string& piece) {
    // Scores fall with rank, like SentencePiece log-probabilities: earlier pieces merge first.
    add(piece, -static_cast<float>(v_.tokens.size()), 1);
  }
  SynthVocab take() { return std::move(v_); }

 private:
  size_t n_;
  SynthVocab v_;
  std::unordered_set<std::string> seen_;
};

}  // namespace

SynthVocab synth_vocab(int n_vocab) {
  Builder b(n_vocab);
  b.add("<unk>", 0.0f, 2);
  b.add("<s>", 0.0f, 3);
  b.add("</s>", 0.0f, 3);
  for (int byte = 0; byte < 256; ++byte) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", byte);
    b.add(buf, 0.0f, 6);
  }
  b.add_piece(kSpace);
  for (char c = 'a'; c <= 'z'; ++c) b.add_piece(std::string(1, c));
  for (char c = 'a'; c <= 'z'; ++c) b.add_piece(kSpace + std::string(1, c));
  for (const char* p : {".", ",", "!", "?", "'", "\"", "-", ":", ";", "(", ")"}) b.add_piece(p);
  for (char c = 'A'; c <= 'Z'; ++c) b.add_piece(std::string(1, c));
  for (char c = '0'; c <= '9'; ++c) b.add_piece(std::string(1, c));
  for (const char* w : kWords) b.add_with_prefixes(kSpace + std::string(w));
  for (const char* w : kWords) {
    std::string cap = w;
    cap[0] = static_cast<char>(cap[0] - 'a' + 'A');
    b.add_with_prefixes(kSpace + cap);
  }
  // Then made-up words of 1, 2, 3 ... syllables, word-initial and word-internal, until full.
  std::vector<std::string> syllables;
  for (const char* c : kConsonants)
    for (const char* v : kVowels) syllables.push_back(std::string(c) + v);
  std::vector<std::string> level = {""};
  while (!b.full()) {
    std::vector<std::string> next;
    for (const auto& prefix : level) {
      for (const auto& s : syllables) {
        next.push_back(prefix + s);
        b.add_with_prefixes(kSpace + next.back());
        b.add_with_prefixes(next.back());
        if (b.full()) break;
      }
      if (b.full()) break;
    }
    level = std::move(next);
  }
  return b.take();
}

}  // namespace plumb::gguf
