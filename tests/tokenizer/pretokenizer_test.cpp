// The PCRE2 pre-tokenizer against an independent, hand-written splitter that follows the
// code-point state machines llama.cpp uses for its GPT-2 and Llama-3 patterns
// (unicode_regex_split_custom_gpt2/_llama3), on random strings over a pool of tricky
// characters.  Also: every known pre-tokenizer's regexes compile.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace plumb::tok {
namespace {

std::vector<uint32_t> to_cpts(const std::string& s) {
  std::vector<uint32_t> out;
  for (size_t pos = 0; pos < s.size();) out.push_back(decode_utf8(s, &pos));
  return out;
}

// Lengths (in code points) of the pieces.
std::vector<size_t> reference_split(const std::vector<uint32_t>& c, bool llama3) {
  const size_t n = c.size();
  constexpr uint32_t kOut = 0xFFFFFFFF;
  auto cpt = [&](size_t p) { return p < n ? c[p] : kOut; };
  auto in = [&](size_t p) { return p < n; };
  auto letter = [&](size_t p) { return in(p) && char_flags(c[p]).letter; };
  auto number = [&](size_t p) { return in(p) && char_flags(c[p]).number; };
  auto space = [&](size_t p) { return in(p) && char_flags(c[p]).whitespace; };
  auto other = [&](size_t p) { return in(p) && !letter(p) && !number(p) && !space(p); };
  std::vector<size_t> out;
  size_t prev = 0;
  auto emit = [&](size_t end) {
    if (end > prev) out.push_back(end - prev);
    prev = end;
  };
  for (size_t pos = 0; pos < n;) {
    const uint32_t ch = c[pos];
    if (ch == '\'' && pos + 1 < n) {  // contractions
      const uint32_t a = llama3 ? to_lower(cpt(pos + 1)) : cpt(pos + 1);
      if (a == 's' || a == 't' || a == 'm' || a == 'd') {
        emit(pos += 2);
        continue;
      }
      if (pos + 2 < n) {
        const uint32_t b = llama3 ? to_lower(cpt(pos + 2)) : cpt(pos + 2);
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
          emit(pos += 3);
          continue;
        }
      }
    }
    if (llama3) {
      if (!(ch == '\r' || ch == '\n' || number(pos)) && (letter(pos) || letter(pos + 1))) {  // [^\r\n\p{L}\p{N}]?\p{L}+
        ++pos;
        while (letter(pos)) ++pos;
        emit(pos);
        continue;
      }
      if (number(pos)) {  // \p{N}{1,3}
        size_t ini = pos;
        while (number(pos)) {
          if (++pos - ini >= 3) {
            emit(pos);
            ini = pos;
          }
        }
        emit(pos);
        continue;
      }
      const size_t q = ch == ' ' ? pos + 1 : pos;  //  ?[^\s\p{L}\p{N}]+[\r\n]*
      if (other(q)) {
        pos = q;
        while (other(pos)) ++pos;
        while (cpt(pos) == '\r' || cpt(pos) == '\n') ++pos;
        emit(pos);
        continue;
      }
    } else {
      const size_t q = ch == ' ' ? pos + 1 : pos;
      if (letter(q) || number(q) || other(q)) {  //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+
        const bool l = letter(q), d = number(q);
        pos = q;
        while (l ? letter(pos) : d ? number(pos) : other(pos)) ++pos;
        emit(pos);
        continue;
      }
    }
    size_t ws = 0, last_nl = 0;
    while (space(pos + ws)) {
      if (llama3 && (cpt(pos + ws) == '\r' || cpt(pos + ws) == '\n')) last_nl = pos + ws + 1;
      ++ws;
    }
    if (last_nl > 0) {  // \s*[\r\n]+
      emit(pos = last_nl);
      continue;
    }
    if (ws > 1 && in(pos + ws)) {  // \s+(?!\S)
      emit(pos += ws - 1);
      continue;
    }
    if (ws > 0) {  // \s+
      emit(pos += ws);
      continue;
    }
    emit(++pos);
  }
  return out;
}

std::vector<size_t> pcre_split(const PreTokenizer& p, const std::string& s) {
  std::vector<std::pair<size_t, size_t>> w;
  p.split(s, &w);
  std::vector<size_t> out;
  for (auto [b, e] : w) out.push_back(to_cpts(s.substr(b, e - b)).size());
  return out;
}

TEST(PreTokenizerRandom, MatchesLlamaCppStateMachines) {
  const std::vector<std::string> pool = {
      "a", "Z", "é", "ß", "Ж", "日", "ア", "한", "ي", "\xCC\x81" /* combining acute */, "1", "7", "٣", "½", "Ⅻ",
      " ", "  ", "\t", "\n", "\r", "\r\n", "\xC2\xA0", "\xC2\x85", "\xE3\x80\x80", "\xE2\x80\x8B" /* ZWSP, Cf */,
      "'", "'s", "'S", "'ll", "'Re", "'ve", "'d", "'x", ".", ",", "!", "?", "-", "_", "$", "+", "(", ")", "…",
      "🦙", "😀", "\xE2\x9C\x85", "\x01", "\x7F", "~", "@", "#", "/", "\\"};
  std::mt19937 rng(1234);
  for (bool llama3 : {false, true}) {
    PreTokenizer p;
    ASSERT_TRUE(p.compile(*pre_tokenizer_regexes(llama3 ? "llama3" : "gpt-2")).ok());
    for (int iter = 0; iter < 3000; ++iter) {
      std::string s;
      const int len = static_cast<int>(rng() % 12);
      for (int i = 0; i < len; ++i) s += pool[rng() % pool.size()];
      EXPECT_EQ(pcre_split(p, s), reference_split(to_cpts(s), llama3)) << (llama3 ? "llama3" : "gpt2") << " on '" << s << "'";
      if (HasFailure()) return;
    }
  }
}

TEST(PreTokenizerTable, EveryKnownPreCompilesAndUnknownIsNamed) {
  for (const char* pre : {"default", "llama3", "llama-bpe", "qwen2", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon",
                          "starcoder", "refact", "command-r", "smollm", "phi-2", "stablelm2", "mpt", "olmo", "gpt-4o",
                          "tekken", "chatglm-bpe", "bloom", "viking", "chameleon", "deepseek-v3", "bailingmoe", "seed-coder"}) {
    auto re = pre_tokenizer_regexes(pre);
    ASSERT_TRUE(re.ok()) << pre;
    PreTokenizer p;
    const Status s = p.compile(*re);
    EXPECT_TRUE(s.ok()) << pre << ": " << s.to_string();
    std::vector<std::pair<size_t, size_t>> w;
    const std::string text = "Hello, World! 123456 ünïcödé 日本語 'tis   \n\n x";
    p.split(text, &w);
    // Pieces tile the text exactly.
    size_t at = 0;
    for (auto [b, e] : w) {
      EXPECT_EQ(b, at) << pre;
      EXPECT_LT(b, e) << pre;
      at = e;
    }
    EXPECT_EQ(at, text.size()) << pre;
  }
  auto bad = pre_tokenizer_regexes("made-up");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'made-up'"), std::string::npos);
}

}  // namespace
}  // namespace plumb::tok
