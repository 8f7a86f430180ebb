// Unigram (SentencePiece unigram, as llama.cpp's llm_tokenizer_ugm does it without a
// precompiled normalisation map): Viterbi over code-point positions maximising the sum of
// token scores; a code point no token covers costs (min score - 10) and becomes UNK, and
// consecutive UNKs collapse into one.
#include <algorithm>
#include <cfloat>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace plumb::tok {

void VocabTokenizer::encode_unigram(std::string_view text, std::vector<TokenId>* out) const {
  // Normalise: optional space prefix, optional whitespace squeezing, space -> U+2581.
  const std::string_view space = v_.escape_whitespaces ? kSpmSpace : std::string_view(" ");
  std::string norm;
  norm.reserve(text.size() * 3 / 2 + 4);
  bool in_word = false, prefixed = false;
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    decode_utf8(text, &pos);  // keeps whole characters together; malformed bytes -> U+FFFD
    std::string_view ch = text.substr(start, pos - start);
    std::string repl;
    if (!is_valid_utf8(ch)) {
      repl = "\xEF\xBF\xBD";
      ch = repl;
    }
    if (ch == " ") {
      in_word = false;
      if (!v_.remove_extra_whitespaces) norm.append(space);
      continue;
    }
    if (!in_word) {
      in_word = true;
      if ((v_.add_space_prefix && !prefixed) || v_.remove_extra_whitespaces) {
        norm.append(space);
        prefixed = true;
      }
    }
    norm.append(ch);
  }
  const size_t n = norm.size();
  if (n == 0) return;

  struct Best {
    TokenId id;
    uint32_t from;
    double score;
  };
  std::vector<Best> best(n + 1, {v_.unk, 0, -DBL_MAX});
  best[0] = {v_.unk, 0, 0.0};
  for (size_t i = 0; i < n;) {
    const size_t clen = std::min(utf8_len(static_cast<uint8_t>(norm[i])), n - i);
    if (best[i].score > -DBL_MAX) {
      bool single_found = false;
      const size_t max_end = std::min(n, i + max_token_len_);
      for (size_t e = i + 1; e <= max_end; ++e) {
        const TokenId id = find_token(std::string_view(norm).substr(i, e - i));
        if (id == kNoToken || !(v_.attrs[id] & (kAttrNormal | kAttrUserDefined | kAttrUnused))) continue;
        if (e - i == clen) single_found = true;
        const double s = best[i].score + ((v_.attrs[id] & kAttrUserDefined) ? 0.0 : v_.scores[id]);
        if (s > best[e].score) best[e] = {id, static_cast<uint32_t>(i), s};
      }
      if (!single_found) {
        const double s = best[i].score + unigram_unknown_score_;
        if (s > best[i + clen].score) best[i + clen] = {v_.unk, static_cast<uint32_t>(i), s};
      }
    }
    i += clen;
  }
  const size_t first = out->size();
  bool prev_unk = false;
  for (size_t pos = n;;) {
    const Best& b = best[pos];
    const bool unk = b.id == v_.unk;
    if (!(prev_unk && unk) && b.id != kNoToken) out->push_back(b.id);
    if (b.from == 0) break;
    prev_unk = unk;
    pos = b.from;
  }
  std::reverse(out->begin() + static_cast<std::ptrdiff_t>(first), out->end());
}

}  // namespace plumb::tok
