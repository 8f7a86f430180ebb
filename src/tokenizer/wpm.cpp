// WordPiece (llama.cpp's llm_tokenizer_wpm): BERT normalisation (lowercase, accents
// stripped via the first code point of the canonical decomposition, punctuation and CJK
// split off), then greedy longest-match over "\u2581" + word; a word with an unmatched
// position becomes the unknown token.
#include <algorithm>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace plumb::tok {

namespace {
bool is_chinese_char(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
         (cp >= 0x2B920 && cp <= 0x2CEAF) ||  // 0x2B820 in Unicode; Hugging Face uses 0x2B920
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}
}  // namespace

void VocabTokenizer::encode_wpm(std::string_view text, std::vector<TokenId>* out) const {
  // Normalise and split into words.
  std::vector<std::string> words(1);
  for (size_t pos = 0; pos < text.size();) {
    uint32_t cp = decode_utf8(text, &pos);
    if (v_.strip_accents) cp = nfd_first(cp);
    const CharFlags f = char_flags(cp);
    if (f.whitespace) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cp == 0 || cp == kReplacementChar || f.control) continue;
    if (v_.strip_accents && f.mark) continue;
    if (v_.lowercase) cp = to_lower(cp);
    if (f.punctuation || (cp < 0x7F && f.symbol) || is_chinese_char(cp)) {
      if (!words.back().empty()) words.emplace_back();
      append_utf8(cp, &words.back());
      words.emplace_back();
    } else {
      append_utf8(cp, &words.back());
    }
  }

  std::string w;
  for (const std::string& word : words) {
    if (word.empty()) continue;
    w.assign(kSpmSpace);
    w += word;
    const size_t n = w.size();
    const size_t start_size = out->size();
    for (size_t i = 0; i < n; ++i) {
      bool match = false;
      for (size_t j = std::min(n, i + max_token_len_ + 1); j > i; --j) {
        const TokenId id = find_token(std::string_view(w).substr(i, j - i));
        if (id != kNoToken) {
          out->push_back(id);
          match = true;
          i = j - 1;
          break;
        }
      }
      if (!match) {  // discard the word's pieces
        out->resize(start_size);
        break;
      }
    }
    if (out->size() == start_size && v_.unk != kNoToken) out->push_back(v_.unk);
  }
}

}  // namespace plumb::tok
