// libFuzzer target: tokenize / detokenize / stream arbitrary bytes with small built-in
// vocabularies of every kind (SPM, byte-level BPE with two pre-tokenizers, WordPiece,
// Unigram).  Checks invariants, not just crashes:
//   - every id is in range;
//   - SPM with byte fallback gives back the input exactly when it has no space, no literal U+2581
//     and no user-defined token (those three change the text by design);
//   - streaming output is valid UTF-8 and equals the sanitised detokenization.
//
//   CC=clang CXX=clang++ cmake -B build-fuzz -DPLUMB_FUZZ=ON -DPLUMB_TESTS=OFF -DPLUMB_BENCH=OFF
//   cmake --build build-fuzz --target tokenizer_fuzz && build-fuzz/fuzz/tokenizer_fuzz -max_total_time=300
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "plumb/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace {

using plumb::TokenId;
using plumb::TokenizerModel;
using plumb::tok::VocabData;
const std::string kSp = "\xE2\x96\x81";

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant failed: %s\n", what);
    std::abort();
  }
}

std::unique_ptr<plumb::Tokenizer> build(VocabData v) {
  auto t = plumb::tok::make_tokenizer(std::move(v));
  check(t.ok(), "built-in vocabulary builds");
  return std::move(t).value();
}

VocabData spm() {
  VocabData v;
  v.model = TokenizerModel::kSpm;
  (void)plumb::tok::apply_model_defaults(&v);
  auto add = [&](const std::string& t, float s, uint8_t a = plumb::tok::kAttrNormal) {
    v.tokens.push_back(t), v.scores.push_back(s), v.attrs.push_back(a);
  };
  add("<unk>", 0, plumb::tok::kAttrUnknown), add("<s>", 0, plumb::tok::kAttrControl), add("</s>", 0, plumb::tok::kAttrControl);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    add(buf, 0, plumb::tok::kAttrByte);
  }
  const char* pieces[] = {"a", "b", "c", "ab", "bc", "abc", "▁", "▁a", "▁ab", "▁▁", "é", "▁é", "日", "日本"};
  float s = -1;
  for (const char* p : pieces) {
    std::string t = p;
    add(t, s -= 0.5f);
  }
  add("<|ctl|>", 0, plumb::tok::kAttrControl), add("<u>", 0, plumb::tok::kAttrUserDefined);
  return v;
}

VocabData bpe(const std::string& pre) {
  VocabData v;
  v.model = TokenizerModel::kBpe;
  v.pre = pre;
  check(plumb::tok::apply_model_defaults(&v).ok(), "known pre");
  for (int b = 0; b < 256; ++b) {
    v.tokens.emplace_back(plumb::tok::byte_to_unicode(static_cast<uint8_t>(b)));
    v.attrs.push_back(plumb::tok::kAttrNormal);
  }
  const char* merges[] = {"a b", "ab c", "Ġ a", "Ġa b", "Ġ Ġ", "ĠĠ ĠĠ", "Ã ©", "1 2"};
  for (const char* m : merges) {
    std::string s = m;
    v.merges.push_back(s);
    const size_t sp = s.find(' ');
    v.tokens.push_back(s.substr(0, sp) + s.substr(sp + 1));
    v.attrs.push_back(plumb::tok::kAttrNormal);
  }
  v.tokens.push_back("<|eot_id|>"), v.attrs.push_back(plumb::tok::kAttrControl);
  return v;
}

VocabData wpm() {
  VocabData v;
  v.model = TokenizerModel::kWordPiece;
  (void)plumb::tok::apply_model_defaults(&v);
  for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]"}) v.tokens.push_back(t), v.attrs.push_back(plumb::tok::kAttrControl);
  for (const char* t : {"▁a", "▁ab", "b", "c", "▁!", "▁日"}) v.tokens.push_back(t), v.attrs.push_back(plumb::tok::kAttrNormal);
  v.unk = 1, v.bos = 2, v.sep = 3, v.pad = 0;
  return v;
}

VocabData unigram() {
  VocabData v;
  v.model = TokenizerModel::kUnigram;
  (void)plumb::tok::apply_model_defaults(&v);
  v.add_space_prefix = true;
  const std::pair<const char*, float> toks[] = {{"<unk>", 0}, {"</s>", 0}, {"▁", -2}, {"a", -3}, {"b", -3}, {"▁ab", -4}, {"ab", -3.5f}};
  for (auto [t, s] : toks) v.tokens.push_back(t), v.scores.push_back(s), v.attrs.push_back(plumb::tok::kAttrNormal);
  v.attrs[0] = plumb::tok::kAttrUnknown, v.unk = 0, v.eos = 1;
  return v;
}

struct Vocabs {
  std::vector<std::unique_ptr<plumb::Tokenizer>> all;
  Vocabs() {
    all.push_back(build(spm()));
    all.push_back(build(bpe("llama-bpe")));
    all.push_back(build(bpe("gpt-4o")));
    all.push_back(build(bpe("deepseek-llm")));
    all.push_back(build(wpm()));
    all.push_back(build(unigram()));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Vocabs vocabs;
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto& tok = *vocabs.all[flags % vocabs.all.size()];
  const plumb::TokenizeOptions opts{.add_special = (flags & 8) != 0, .parse_special = (flags & 16) != 0};
  const std::vector<TokenId> ids = tok.tokenize(text, opts);
  for (TokenId id : ids) check(id >= 0 && id < tok.n_vocab(), "id in range");
  const std::string back = tok.detokenize(ids, (flags & 32) != 0);
  if (tok.model() == TokenizerModel::kSpm && !opts.add_special && !opts.parse_special && text.find(' ') == std::string::npos &&
      text.find("<u>") == std::string::npos && text.find(kSp) == std::string::npos) {  // a literal U+2581 decodes as ' '

    check(back == text, "SPM byte fallback round trip");
  }
  // Arbitrary ids, including invalid ones, detokenize and stream without trouble.
  std::vector<TokenId> junk;
  for (size_t i = 1; i + 1 < size; i += 2) junk.push_back(static_cast<TokenId>((data[i] << 8 | data[i + 1]) % (tok.n_vocab() + 4)) - 2);
  const std::string junk_text = tok.detokenize(junk, true);
  plumb::StreamingDetokenizer stream(tok, true);
  std::string streamed;
  for (TokenId id : junk) streamed += stream.push(id);
  streamed += stream.flush();
  check(plumb::tok::is_valid_utf8(streamed), "streamed text is valid UTF-8");
  check(streamed == plumb::tok::sanitize_utf8(junk_text), "streamed == sanitize(detokenize)");
  return 0;
}
