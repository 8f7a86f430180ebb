// Data-driven conformance: every ../shared/vocab/NAME.gguf with NAME.gguf.inp/.out (llama.cpp's
// tokenizer test sets).  Each case is tokenized as llama.cpp's test-tokenizer-0 does it
// (add_special = false, parse_special = false) and the ids must match exactly.  Round trip:
// detokenize(tokenize(x)) must equal x for every case where detokenizing the reference ids
// gives back x (some vocabularies lowercase or drop characters, so not every case can).
// Streaming detokenization of the reference ids must equal detokenizing them at once.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "plumb/tokenizer.h"
#include "support/test_support.h"
#include "tokenizer/unicode.h"

namespace plumb {
namespace {

struct Case {
  std::string text;
  std::vector<TokenId> ids;
};

std::vector<Case> read_cases(const std::string& inp_path, const std::string& out_path, std::string* error) {
  const std::string raw = test::read_file(inp_path);
  const std::string out = test::read_file(out_path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      inputs.push_back(raw.substr(pos));
      break;
    }
    inputs.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::string> lines;
  std::istringstream ls(out);
  for (std::string line; std::getline(ls, line);) lines.push_back(line);
  if (inputs.size() != lines.size()) {
    *error = inp_path + ": " + std::to_string(inputs.size()) + " cases but " + out_path + " has " +
             std::to_string(lines.size()) + " lines";
    return {};
  }
  std::vector<Case> cases;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Case c{inputs[i], {}};
    std::istringstream is(lines[i]);
    for (long id; is >> id;) c.ids.push_back(static_cast<TokenId>(id));
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string show(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId id : ids) s += std::to_string(id) + " ";
  return s;
}

TEST(TokenizerConformance, EveryVocabInSharedFolderMatchesReference) {
  PLUMB_REQUIRE_SHARED(dir, "vocab");
  std::vector<std::filesystem::path> vocabs;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".gguf" && std::filesystem::exists(e.path().string() + ".inp") &&
        std::filesystem::exists(e.path().string() + ".out")) {
      vocabs.push_back(e.path());
    }
  }
  std::sort(vocabs.begin(), vocabs.end());
  ASSERT_FALSE(vocabs.empty()) << "no NAME.gguf with .inp/.out in " << dir;

  for (const auto& path : vocabs) {
    SCOPED_TRACE(path.filename().string());
    auto tok = Tokenizer::from_gguf_path(path.string());
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    std::string error;
    const auto cases = read_cases(path.string() + ".inp", path.string() + ".out", &error);
    ASSERT_TRUE(error.empty()) << error;
    ASSERT_FALSE(cases.empty());
    int ids_ok = 0, rt_checked = 0, rt_ok = 0;
    for (const Case& c : cases) {
      const auto ids = (*tok)->tokenize(c.text, {.add_special = false, .parse_special = false});
      if (ids == c.ids) {
        ++ids_ok;
      } else {
        ADD_FAILURE() << "ids differ for '" << c.text << "'\n  expected: " << show(c.ids) << "\n  got:      " << show(ids);
      }
      // Streaming gives the same text as detokenizing at once (made valid UTF-8).
      StreamingDetokenizer stream(**tok);
      std::string streamed;
      for (TokenId id : c.ids) streamed += stream.push(id);
      streamed += stream.flush();
      std::string whole = (*tok)->detokenize(c.ids);
      EXPECT_EQ(streamed, tok::sanitize_utf8(whole)) << "streaming '" << c.text << "'";
      if (whole == c.text) {
        ++rt_checked;
        const std::string back = (*tok)->detokenize(ids);
        if (back == c.text) {
          ++rt_ok;
        } else {
          ADD_FAILURE() << "round trip of '" << c.text << "' gave '" << back << "'";
        }
      }
    }
    std::printf("[ vocab    ] %-32s ids %d/%zu, round trip %d/%d\n", path.filename().string().c_str(), ids_ok,
                cases.size(), rt_ok, rt_checked);
  }
}

}  // namespace
}  // namespace plumb
