// Algorithm tests on small vocabularies the tests build (in GGUF form via gguf::Writer, or as
// VocabData).  Expected ids are worked out by hand from the merge rules stated in each test.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "plumb/gguf.h"
#include "plumb/tokenizer.h"
#include "support/test_support.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace plumb {
namespace {

using gguf::Value;
using Ids = std::vector<TokenId>;
const std::string kSp = "\xE2\x96\x81";  // U+2581

// Holds the buffer a gguf::File reads from.
struct GgufVocab {
  std::vector<uint8_t> bytes;
  std::unique_ptr<gguf::File> file;
};

GgufVocab write_gguf(const std::vector<std::pair<std::string, Value>>& kv) {
  gguf::Writer w;
  w.set("general.architecture", Value::string("llama"));
  for (const auto& [k, v] : kv) w.set(k, v);
  GgufVocab g;
  g.bytes = w.to_bytes();
  auto f = gguf::File::from_buffer(g.bytes.data(), g.bytes.size(), "test.gguf");
  EXPECT_TRUE(f.ok()) << f.status().to_string();
  if (f.ok()) g.file = std::move(f).value();
  return g;
}

std::unique_ptr<Tokenizer> must(Result<std::unique_ptr<Tokenizer>> r) {
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? std::move(r).value() : nullptr;
}

// ---- SentencePiece ----------------------------------------------------------------------

struct SpmVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  int add(const std::string& t, float score, int32_t type = tok::kTypeNormal) {
    tokens.push_back(t);
    scores.push_back(score);
    types.push_back(type);
    return static_cast<int>(tokens.size()) - 1;
  }
};

// <unk>=0 <s>=1 </s>=2 <0x00>..<0xFF>=3..258, then word pieces.
SpmVocab base_spm() {
  SpmVocab v;
  v.add("<unk>", 0, tok::kTypeUnknown);
  v.add("<s>", 0, tok::kTypeControl);
  v.add("</s>", 0, tok::kTypeControl);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    v.add(buf, 0, tok::kTypeByte);
  }
  return v;
}

GgufVocab spm_gguf(const SpmVocab& v, std::vector<std::pair<std::string, Value>> extra = {}) {
  std::vector<std::pair<std::string, Value>> kv = {
      {"tokenizer.ggml.model", Value::string("llama")},
      {"tokenizer.ggml.tokens", Value::string_array(v.tokens)},
      {"tokenizer.ggml.scores", Value::f32_array(v.scores)},
      {"tokenizer.ggml.token_type", Value::i32_array(v.types)},
      {"tokenizer.ggml.bos_token_id", Value::u32(1)},
      {"tokenizer.ggml.eos_token_id", Value::u32(2)},
      {"tokenizer.ggml.unknown_token_id", Value::u32(0)},
  };
  kv.insert(kv.end(), extra.begin(), extra.end());
  return write_gguf(kv);
}

TEST(Spm, HighestScoringPairMergesFirst) {
  SpmVocab v = base_spm();
  const int a = v.add("a", -10), b = v.add("b", -10), c = v.add("c", -10);
  const int ab = v.add("ab", -1), bc = v.add("bc", -2), sp = v.add(kSp, -5), spa = v.add(kSp + "a", -3);
  auto g = spm_gguf(v);
  auto t = must(Tokenizer::from_gguf(*g.file));
  ASSERT_TRUE(t);
  // "▁abc": pairs ▁a(-3), ab(-1), bc(-2) -> ab first; then ▁+ab has no token, ab+c none.
  EXPECT_EQ(t->tokenize("abc", {.add_special = false}), (Ids{sp, ab, c}));
  (void)a, (void)b, (void)bc, (void)spa;

  SpmVocab v2 = base_spm();
  v2.add("a", -10), v2.add("b", -10);
  const int c2 = v2.add("c", -10), ab2 = v2.add("ab", -2), bc2 = v2.add("bc", -1), sp2 = v2.add(kSp, -5);
  const int spa2 = v2.add(kSp + "a", -3);
  auto g2 = spm_gguf(v2);
  auto t2 = must(Tokenizer::from_gguf(*g2.file));
  // bc(-1) beats ▁a(-3) and ab(-2); then ▁a(-3) merges.
  EXPECT_EQ(t2->tokenize("abc", {.add_special = false}), (Ids{spa2, bc2}));
  (void)c2, (void)ab2, (void)sp2;
}

TEST(Spm, EqualScoresMergeLeftmostFirst) {
  SpmVocab v = base_spm();
  const int a = v.add("a", -10), aa = v.add("aa", -1);
  auto g = spm_gguf(v, {{"tokenizer.ggml.add_space_prefix", Value::boolean(false)}});
  auto t = must(Tokenizer::from_gguf(*g.file));
  EXPECT_EQ(t->tokenize("aaa", {.add_special = false}), (Ids{aa, a}));
}

TEST(Spm, ByteFallbackSpacePrefixAndRoundTrip) {
  SpmVocab v = base_spm();
  const int sp = v.add(kSp, -5), h = v.add("h", -6), i = v.add("i", -6), sphi = v.add(kSp + "hi", -1);
  const int sph = v.add(kSp + "h", -2);
  auto g = spm_gguf(v);
  auto t = must(Tokenizer::from_gguf(*g.file));
  // "hi é": ▁hi, ▁ (space escaped), then é = C3 A9 has no token -> <0xC3><0xA9>.
  const Ids ids = t->tokenize("hi \xC3\xA9", {.add_special = false});
  EXPECT_EQ(ids, (Ids{sphi, sp, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(t->detokenize(ids), "hi \xC3\xA9");  // leading space of the first piece removed
  // BOS from metadata (llama default add_bos_token=true), never EOS.
  EXPECT_EQ(t->tokenize("hi"), (Ids{1, sphi}));
  EXPECT_EQ(t->tokenize(""), (Ids{1}));
  EXPECT_EQ(t->tokenize("", {.add_special = false}), Ids{});
  (void)h, (void)i, (void)sph;
}

TEST(Spm, AddEosAndNoBosFromMetadata) {
  SpmVocab v = base_spm();
  const int sphi = v.add(kSp + "hi", -1);
  v.add("h", -6), v.add("i", -6), v.add(kSp, -5), v.add(kSp + "h", -2);
  auto g = spm_gguf(v, {{"tokenizer.ggml.add_bos_token", Value::boolean(false)},
                        {"tokenizer.ggml.add_eos_token", Value::boolean(true)}});
  auto t = must(Tokenizer::from_gguf(*g.file));
  EXPECT_EQ(t->tokenize("hi"), (Ids{sphi, 2}));
}

TEST(Spm, ControlTokensOnlyWithParseSpecialUserDefinedAlways) {
  SpmVocab v = base_spm();
  const int sp = v.add(kSp, -5), x = v.add("x", -6), spx = v.add(kSp + "x", -1);
  const int ctl = v.add("<|ctl|>", 0, tok::kTypeControl), usr = v.add("<usr>", 0, tok::kTypeUserDefined);
  v.add("<", -9), v.add("|", -9), v.add(">", -9);
  auto g = spm_gguf(v);
  auto t = must(Tokenizer::from_gguf(*g.file));
  const Ids special = t->tokenize("x<|ctl|>x", {.add_special = false, .parse_special = true});
  // After a special token the next text gets the space prefix again (as llama.cpp does).
  EXPECT_EQ(special, (Ids{spx, ctl, spx}));
  const Ids plain = t->tokenize("x<|ctl|>x", {.add_special = false, .parse_special = false});
  EXPECT_EQ(std::count(plain.begin(), plain.end(), ctl), 0);
  EXPECT_EQ(t->tokenize("<usr>", {.add_special = false}), (Ids{usr}));
  EXPECT_EQ(t->detokenize(special), "x x");  // "▁x" after the special token keeps its space
  EXPECT_EQ(t->detokenize(special, /*render_special=*/true), "x<|ctl|> x");
  EXPECT_TRUE(t->is_special(ctl));
  EXPECT_TRUE(t->is_special(usr));
  EXPECT_FALSE(t->is_special(x));
  (void)sp;
}

TEST(Spm, InvalidUtf8EmptyAndLargeInputsAreDefined) {
  SpmVocab v = base_spm();
  v.add(kSp, -5), v.add("a", -6), v.add(kSp + "a", -1);
  auto g = spm_gguf(v);
  auto t = must(Tokenizer::from_gguf(*g.file));
  const std::string bad = "a\xFF\xFE\x80" "b\xC3";
  const Ids ids = t->tokenize(bad, {.add_special = false});
  EXPECT_EQ(t->detokenize(ids), bad);  // byte fallback keeps every byte
  // A bad lead byte swallows the next bytes as one "character", here the first bytes of the
  // escaped space (U+2581), which then come back as U+2581: llama.cpp's result too.
  EXPECT_EQ(t->detokenize(t->tokenize("\xC3 a", {.add_special = false})), "\xC3\xE2\x96\x81" "a");
  std::string big;
  while (big.size() < (1u << 20)) big += "a a\xC3\xA9 aa ";
  const Ids big_ids = t->tokenize(big, {.add_special = false});
  EXPECT_EQ(t->detokenize(big_ids), big);
}

// ---- Byte-level BPE ----------------------------------------------------------------------

struct BpeVocab {
  std::vector<std::string> tokens;  // ids 0..255: the byte symbols in byte order
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  BpeVocab() {
    for (int b = 0; b < 256; ++b) {
      tokens.emplace_back(tok::byte_to_unicode(static_cast<uint8_t>(b)));
      types.push_back(tok::kTypeNormal);
    }
  }
  int id_of(const std::string& t) const {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] == t) return static_cast<int>(i);
    }
    return -1;
  }
  // Adds merge "l r" and the token l+r (when new); returns the token id.
  int merge(const std::string& l, const std::string& r) {
    merges.push_back(l + " " + r);
    const int id = id_of(l + r);
    if (id >= 0) return id;
    tokens.push_back(l + r);
    types.push_back(tok::kTypeNormal);
    return static_cast<int>(tokens.size()) - 1;
  }
  int add(const std::string& t, int32_t type) {
    tokens.push_back(t);
    types.push_back(type);
    return static_cast<int>(tokens.size()) - 1;
  }
};

GgufVocab bpe_gguf(const BpeVocab& v, const std::string& pre, std::vector<std::pair<std::string, Value>> extra = {}) {
  std::vector<std::pair<std::string, Value>> kv = {
      {"tokenizer.ggml.model", Value::string("gpt2")},
      {"tokenizer.ggml.pre", Value::string(pre)},
      {"tokenizer.ggml.tokens", Value::string_array(v.tokens)},
      {"tokenizer.ggml.token_type", Value::i32_array(v.types)},
      {"tokenizer.ggml.merges", Value::string_array(v.merges)},
  };
  kv.insert(kv.end(), extra.begin(), extra.end());
  return write_gguf(kv);
}

TEST(Bpe, LowestRankMergesFirstPerWord) {
  BpeVocab v;
  const int he = v.merge("h", "e");
  const int ll = v.merge("l", "l");
  const int hell = v.merge("he", "ll");
  const int hello = v.merge("hell", "o");
  const int sp_w = v.merge("\xC4\xA0", "w");  // "Ġ" is the space byte's symbol
  auto g = bpe_gguf(v, "gpt-2");
  auto t = must(Tokenizer::from_gguf(*g.file));
  // gpt-2 splits "hello world" into "hello" and " world"; " world" merges only Ġw.
  const Ids ids = t->tokenize("hello world", {.add_special = false});
  EXPECT_EQ(ids, (Ids{hello, sp_w, 'o', 'r', 'l', 'd'}));
  EXPECT_EQ(t->detokenize(ids), "hello world");
  // "hell" alone: he, ll, hell.
  EXPECT_EQ(t->tokenize("hell", {.add_special = false}), (Ids{hell}));
  // " he" is one word "Ġhe"; h+e merges, Ġ+he has no merge.
  EXPECT_EQ(t->tokenize("he he", {.add_special = false}), (Ids{he, v.id_of("\xC4\xA0"), he}));
  (void)ll;
}

TEST(Bpe, EqualRanksApplyLeftmostFirst) {
  BpeVocab v;
  const int aa = v.merge("a", "a");
  auto g = bpe_gguf(v, "gpt-2");
  auto t = must(Tokenizer::from_gguf(*g.file));
  EXPECT_EQ(t->tokenize("aaa", {.add_special = false}), (Ids{aa, v.id_of("a")}));
}

TEST(Bpe, UnknownPreTokenizerIsAnErrorThatNamesIt) {
  BpeVocab v;
  auto g = bpe_gguf(v, "no-such-pre");
  auto t = Tokenizer::from_gguf(*g.file);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("'no-such-pre'"), std::string::npos) << t.status().message();
  EXPECT_NE(t.status().message().find("tokenizer.ggml.pre"), std::string::npos);
}

TEST(Bpe, Llama3AddsBosAndIgnoresMergesForWholeTokens) {
  BpeVocab v;
  const int bos = v.add("<|begin_of_text|>", tok::kTypeControl);
  const int eot = v.add("<|eot_id|>", tok::kTypeControl);
  const int word = v.add("abc", tok::kTypeNormal);  // no merges lead here
  auto g = bpe_gguf(v, "llama-bpe", {{"tokenizer.ggml.bos_token_id", Value::u32(bos)}});
  auto t = must(Tokenizer::from_gguf(*g.file));
  EXPECT_EQ(t->tokenize("abc"), (Ids{bos, word}));
  EXPECT_EQ(t->tokenize("abc<|eot_id|>", {.add_special = false, .parse_special = true}), (Ids{word, eot}));
  EXPECT_TRUE(t->is_end_of_generation(eot));
  EXPECT_EQ(t->eot(), eot);
}

TEST(Bpe, InvalidUtf8BecomesReplacementCharacterBytes) {
  BpeVocab v;
  auto g = bpe_gguf(v, "llama-bpe");
  auto t = must(Tokenizer::from_gguf(*g.file));
  const Ids ids = t->tokenize("a\xFF", {.add_special = false});
  EXPECT_EQ(t->detokenize(ids), "a\xEF\xBF\xBD");
  EXPECT_EQ(t->tokenize("", {.add_special = false}), Ids{});
}

TEST(PreTokenizer, Llama3RegexSplitsLikeLlamaCpp) {
  tok::PreTokenizer p;
  auto re = tok::pre_tokenizer_regexes("llama3");
  ASSERT_TRUE(re.ok());
  ASSERT_TRUE(p.compile(*re).ok());
  auto split = [&](const std::string& s) {
    std::vector<std::pair<size_t, size_t>> w;
    p.split(s, &w);
    std::vector<std::string> out;
    for (auto [b, e] : w) out.push_back(s.substr(b, e - b));
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(split("Hello, y'all!  12345\n\n x"), (V{"Hello", ",", " y", "'all", "!", " ", " ", "123", "45", "\n\n", " x"}));
  EXPECT_EQ(split("I'M   a"), (V{"I", "'M", "  ", " a"}));
  // U+0085 (NEL) is whitespace for llama.cpp and Python, though not for PCRE2 10.42's \s.
  EXPECT_EQ(split("a\xC2\x85\xC2\x85" "b"), (V{"a", "\xC2\x85", "\xC2\x85" "b"}));
}

// ---- WordPiece ---------------------------------------------------------------------------

TEST(WordPiece, LowercasesStripsAccentsAndSplitsPunctuation) {
  std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", kSp + "hello", kSp + "world", kSp + "!",
                                     kSp + "play", "ing", kSp + "cafe"};
  std::vector<int32_t> types(tokens.size(), tok::kTypeNormal);
  for (int i = 0; i < 4; ++i) types[i] = tok::kTypeControl;
  auto g = write_gguf({{"tokenizer.ggml.model", Value::string("bert")},
                       {"tokenizer.ggml.tokens", Value::string_array(tokens)},
                       {"tokenizer.ggml.token_type", Value::i32_array(types)},
                       {"tokenizer.ggml.unknown_token_id", Value::u32(1)},
                       {"tokenizer.ggml.cls_token_id", Value::u32(2)},
                       {"tokenizer.ggml.seperator_token_id", Value::u32(3)}});
  auto t = must(Tokenizer::from_gguf(*g.file));
  EXPECT_EQ(t->tokenize("Hello  WORLD!", {.add_special = false}), (Ids{4, 5, 6}));
  EXPECT_EQ(t->tokenize("playing Caf\xC3\xA9 xyz"), (Ids{2, 7, 8, 9, 1, 3}));
  EXPECT_EQ(t->detokenize(Ids{4, 5}), " hello world");
}

// ---- Streaming ---------------------------------------------------------------------------

TEST(StreamingDetokenizer, NeverEmitsHalfACharacter) {
  SpmVocab v = base_spm();
  const int sphi = v.add(kSp + "hi", -1);
  v.add(kSp, -5), v.add("h", -6), v.add("i", -6), v.add(kSp + "h", -2);
  auto g = spm_gguf(v);
  auto t = must(Tokenizer::from_gguf(*g.file));
  StreamingDetokenizer s(*t);
  EXPECT_EQ(s.push(sphi), "hi");
  EXPECT_EQ(s.push(3 + 0xE2), "");  // first byte of U+20AC
  EXPECT_EQ(s.push(3 + 0x82), "");
  EXPECT_EQ(s.push(3 + 0xAC), "\xE2\x82\xAC");
  EXPECT_EQ(s.push(3 + 0xC3), "");
  EXPECT_EQ(s.flush(), "\xEF\xBF\xBD");  // a dangling lead byte

  // Concatenated output equals detokenize for a long stream (windows get closed on the way).
  const std::string text = "hi hi \xE2\x82\xAC hi\xC3\xA9 hi hi hi hi hi hi hi hi hi hi hi hi hi \xF0\x9F\xA6\x99";
  const Ids ids = t->tokenize(text, {.add_special = false});
  StreamingDetokenizer s2(*t);
  std::string streamed;
  for (TokenId id : ids) streamed += s2.push(id);
  streamed += s2.flush();
  EXPECT_EQ(streamed, t->detokenize(ids));
  EXPECT_EQ(streamed, text);
}

// ---- GGUF loading errors -------------------------------------------------------------------

TEST(VocabGguf, MissingOrMistypedKeysAreClearErrors) {
  auto g = write_gguf({{"general.name", Value::string("x")}});
  auto t = Tokenizer::from_gguf(*g.file);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("tokenizer.ggml.model"), std::string::npos);

  auto g2 = write_gguf({{"tokenizer.ggml.model", Value::string("llama")},
                        {"tokenizer.ggml.tokens", Value::f32_array({1.0f})}});
  auto t2 = Tokenizer::from_gguf(*g2.file);
  ASSERT_FALSE(t2.ok());
  EXPECT_NE(t2.status().message().find("tokenizer.ggml.tokens"), std::string::npos) << t2.status().message();

  auto g3 = write_gguf({{"tokenizer.ggml.model", Value::string("rwkv")},
                        {"tokenizer.ggml.tokens", Value::string_array({"a"})}});
  auto t3 = Tokenizer::from_gguf(*g3.file);
  ASSERT_FALSE(t3.ok());
  EXPECT_NE(t3.status().message().find("'rwkv'"), std::string::npos);
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

TEST(Concurrency, ManyThreadsGetTheSameIds) {
  PLUMB_REQUIRE_SHARED(path, "vocab/ggml-vocab-llama-bpe.gguf");
  auto t = must(Tokenizer::from_gguf_path(path));
  ASSERT_TRUE(t);
  std::string text;
  for (int i = 0; i < 200; ++i) text += "Tokenizers run in parallel, " + std::to_string(i) + " times; ünïcödé 🦙\n";
  const Ids expected = t->tokenize(text);
  std::vector<Ids> got(4);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int rep = 0; rep < 3; ++rep) got[k] = t->tokenize(text);
    });
  }
  for (auto& th : threads) th.join();
  for (const Ids& g : got) EXPECT_EQ(g, expected);
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

TEST(Spm, Phi3SpecialTokensEatFollowingWhitespace) {
  SpmVocab v = base_spm();
  const int sp = v.add(kSp, -5), sphi = v.add(kSp + "hi", -1);
  v.add("h", -6), v.add("i", -6), v.add(kSp + "h", -2);
  const int user = v.add("<|user|>", 0, tok::kTypeUserDefined);
  auto phi = spm_gguf(v, {{"general.name", Value::string("Phi-3 mini")}});
  auto other = spm_gguf(v, {{"general.name", Value::string("something else")}});
  auto t_phi = must(Tokenizer::from_gguf(*phi.file));
  auto t_other = must(Tokenizer::from_gguf(*other.file));
  // llama.cpp marks Phi-3's special tokens RSTRIP: the spaces after <|user|> disappear.
  EXPECT_EQ(t_phi->tokenize("<|user|> \n hi", {.add_special = false}), (Ids{user, sphi}));
  EXPECT_EQ(t_other->tokenize("<|user|> hi", {.add_special = false}), (Ids{user, sp, sphi}));
}

}  // namespace
}  // namespace plumb
