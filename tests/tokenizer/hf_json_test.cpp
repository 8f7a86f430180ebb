// Hugging Face tokenizer.json as a second source: small hand-made files, and the llama-bpe
// conformance set re-expressed as a tokenizer.json (from the GGUF's vocabulary and merges),
// which must give the reference ids too.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "plumb/gguf.h"
#include "plumb/tokenizer.h"
#include "support/test_support.h"
#include "tokenizer/unicode.h"

namespace plumb {
namespace {

using json = nlohmann::json;
using Ids = std::vector<TokenId>;
const std::string kSp = "\xE2\x96\x81";

std::unique_ptr<Tokenizer> load_json(const test::TempDir& dir, const json& j) {
  const std::string path = dir.file("tokenizer.json");
  test::write_file(path, j.dump());
  auto t = Tokenizer::from_path(path);  // not GGUF magic -> tokenizer.json
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return t.ok() ? std::move(t).value() : nullptr;
}

TEST(HfJson, UnigramPicksTheBestScoringSegmentation) {
  test::TempDir dir;
  auto make = [&](double hello_score) {
    json vocab = json::array({json::array({"<unk>", 0.0}), json::array({kSp, -2.0}), json::array({kSp + "he", -3.0}),
                              json::array({"llo", -3.0}), json::array({kSp + "hello", hello_score}),
                              json::array({"h", -5.0}), json::array({"e", -5.0}), json::array({"l", -5.0}),
                              json::array({"o", -5.0})});
    return json{{"model", {{"type", "Unigram"}, {"unk_id", 0}, {"vocab", vocab}}},
                {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", kSp}, {"prepend_scheme", "always"}}}};
  };
  auto t = load_json(dir, make(-4.5));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->model(), TokenizerModel::kUnigram);
  EXPECT_EQ(t->tokenize("hello", {.add_special = false}), (Ids{4}));  // -4.5 beats -3 + -3
  // Unknown characters become <unk>, and a run of them one <unk>.
  EXPECT_EQ(t->tokenize("hello xx", {.add_special = false}), (Ids{4, 1, 0}));
  auto t2 = load_json(dir, make(-7.0));
  EXPECT_EQ(t2->tokenize("hello", {.add_special = false}), (Ids{2, 3}));
  EXPECT_EQ(t2->detokenize(Ids{2, 3}), "hello");
}

TEST(HfJson, SentencePieceStyleBpeWithByteFallback) {
  test::TempDir dir;
  json vocab = json::object();
  vocab["<unk>"] = 0, vocab["<s>"] = 1, vocab["</s>"] = 2;
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    vocab[buf] = 3 + b;
  }
  vocab[kSp] = 259, vocab["h"] = 260, vocab["i"] = 261, vocab[kSp + "h"] = 262, vocab[kSp + "hi"] = 263;
  json j = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {kSp + " h", kSp + "h i"}}, {"byte_fallback", true},
                       {"unk_token", "<unk>"}}},
            {"normalizer", {{"type", "Sequence"},
                            {"normalizers", {{{"type", "Prepend"}, {"prepend", kSp}},
                                             {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSp}}}}}},
            {"added_tokens", {{{"id", 1}, {"content", "<s>"}, {"special", true}}, {{"id", 2}, {"content", "</s>"}, {"special", true}}}},
            {"post_processor", {{"type", "TemplateProcessing"},
                                {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                            {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}}}};
  auto t = load_json(dir, j);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->tokenize("hi hi"), (Ids{1, 263, 263}));
  EXPECT_EQ(t->tokenize("hi \xC3\xA9", {.add_special = false}), (Ids{263, 259, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(t->detokenize(Ids{263, 259, 3 + 0xC3, 3 + 0xA9}), "hi \xC3\xA9");
}

TEST(HfJson, MalformedFilesAreClearErrors) {
  test::TempDir dir;
  test::write_file(dir.file("a.json"), "{\"model\": 3}");
  auto t = Tokenizer::from_hf_json(dir.file("a.json"));
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("model"), std::string::npos);
  test::write_file(dir.file("b.json"), "not json");
  EXPECT_FALSE(Tokenizer::from_hf_json(dir.file("b.json")).ok());
  test::write_file(dir.file("c.json"), R"({"model": {"type": "WordLevel", "vocab": {}}})");
  auto c = Tokenizer::from_hf_json(dir.file("c.json"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("WordLevel"), std::string::npos);
}

TEST(HfJson, Llama3AsTokenizerJsonMatchesReferenceIds) {
  PLUMB_REQUIRE_SHARED(path, "vocab/ggml-vocab-llama-bpe.gguf");
  auto f = gguf::File::open(path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  auto tokens = (*f)->get_string_array("tokenizer.ggml.tokens");
  auto merges = (*f)->get_string_array("tokenizer.ggml.merges");
  auto types = (*f)->get_int_array("tokenizer.ggml.token_type");
  ASSERT_TRUE(tokens.ok() && merges.ok() && types.ok());
  json vocab = json::object();
  json added = json::array();
  for (size_t i = 0; i < tokens->size(); ++i) {
    if ((*types)[i] == 3) {
      added.push_back({{"id", i}, {"content", (*tokens)[i]}, {"special", true}});
    } else {
      vocab[(*tokens)[i]] = i;
    }
  }
  // Meta's own pre-tokenizer (with the case-insensitive group), not llama.cpp's rewrite.
  const std::string re =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  json j = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", *merges}, {"ignore_merges", true}}},
            {"added_tokens", added},
            {"pre_tokenizer", {{"type", "Sequence"},
                               {"pretokenizers", {{{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}},
                                                  {{"type", "ByteLevel"}, {"use_regex", false}}}}}}};
  test::TempDir dir;
  auto t = load_json(dir, j);
  ASSERT_TRUE(t);
  const std::string raw = test::read_file(path + ".inp");
  const std::string out = test::read_file(path + ".out");
  std::istringstream ls(out);
  const std::string sep = "\n__ggml_vocab_test__\n";
  size_t pos = 0, n = 0;
  for (std::string line; std::getline(ls, line) && pos < raw.size(); ++n) {
    const size_t next = raw.find(sep, pos);
    const std::string text = raw.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    pos = next == std::string::npos ? raw.size() : next + sep.size();
    Ids expected;
    std::istringstream is(line);
    for (long id; is >> id;) expected.push_back(static_cast<TokenId>(id));
    EXPECT_EQ(t->tokenize(text, {.add_special = false}), expected) << "case '" << text << "'";
  }
  EXPECT_EQ(n, 46u);
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

TEST(HfJson, WordPieceWithContinuationPrefix) {
  test::TempDir dir;
  json vocab = {{"[PAD]", 0}, {"[UNK]", 1}, {"[CLS]", 2}, {"[SEP]", 3}, {"play", 4}, {"##ing", 5}, {"!", 6}};
  json j = {{"model", {{"type", "WordPiece"}, {"vocab", vocab}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"}}},
            {"normalizer", {{"type", "BertNormalizer"}, {"lowercase", true}}},
            {"added_tokens", {{{"id", 0}, {"content", "[PAD]"}, {"special", true}}, {{"id", 1}, {"content", "[UNK]"}, {"special", true}},
                              {{"id", 2}, {"content", "[CLS]"}, {"special", true}}, {{"id", 3}, {"content", "[SEP]"}, {"special", true}}}}};
  auto t = load_json(dir, j);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->tokenize("Playing! xyz"), (Ids{2, 4, 5, 6, 1, 3}));
}

}  // namespace
}  // namespace plumb
