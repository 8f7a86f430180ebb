// tokenizer/tokenizer_impl.h — the Tokenizer built from a VocabData: lookup tables,
// special-token partitioning, and the per-model encoders (spm.cpp, bpe.cpp, wpm.cpp,
// unigram.cpp).  Behaviour follows llama.cpp's llama-vocab.cpp token for token.
//
// Thread safety: immutable after create(); every method is const and keeps its scratch
// space on the stack, so many threads may tokenize at once.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/tokenizer.h"
#include "tokenizer/hash_tables.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab.h"

namespace plumb::tok {

class VocabTokenizer final : public Tokenizer {
 public:
  static Result<std::unique_ptr<VocabTokenizer>> create(VocabData v);

  std::vector<TokenId> tokenize(std::string_view text, const TokenizeOptions& opts = {}) const override;
  std::string token_to_piece(TokenId id, bool render_special = false) const override;
  std::string detokenize(std::span<const TokenId> ids, bool render_special = false) const override;
  std::string detokenize_continuation(std::span<const TokenId> ids, bool render_special = false) const override;
  bool cleans_spaces() const override { return v_.clean_spaces; }

  TokenizerModel model() const override { return v_.model; }
  int32_t n_vocab() const override { return n_vocab_; }
  const std::string& token_text(TokenId id) const override;
  TokenId bos() const override { return v_.bos; }
  TokenId eos() const override { return v_.eos; }
  TokenId eot() const override { return v_.eot; }
  bool is_end_of_generation(TokenId id) const override;
  bool is_special(TokenId id) const override;
  const std::string& chat_template() const override { return v_.chat_template; }

  const VocabData& data() const { return v_; }
  // Token id of exactly `text`, or kNoToken.
  TokenId find_token(std::string_view text) const {
    const int32_t id = map_.find(text);
    return id >= 0 && id < n_vocab_ ? id : kNoToken;
  }

 private:
  VocabTokenizer() = default;
  Status build();

  struct Fragment {
    TokenId token;  // kNoToken for raw text
    size_t begin, end;
  };
  void partition(std::string_view text, bool parse_special, std::vector<Fragment>* out) const;

  void encode_spm(std::string_view text, std::vector<TokenId>* out) const;
  void encode_spm_word(std::string_view word, std::vector<TokenId>* out) const;
  void encode_bpe(std::string_view text, std::vector<TokenId>* out) const;
  void encode_bpe_word(std::string_view word, std::vector<TokenId>* out) const;
  void encode_wpm(std::string_view text, std::vector<TokenId>* out) const;
  void encode_unigram(std::string_view text, std::vector<TokenId>* out) const;
  std::string detokenize_impl(std::span<const TokenId> ids, bool render_special, bool remove_space) const;
  TokenId byte_fallback(uint8_t b) const;

  VocabData v_;
  int32_t n_vocab_ = 0;
  std::vector<std::string> strings_;  // token texts, then strings that only merges use
  StringIdMap map_;
  PairMap merges_;
  PreTokenizer pre_;
  std::array<TokenId, 256> byte_tokens_{};         // "<0xNN>" tokens
  std::array<TokenId, 256> single_byte_tokens_{};  // tokens whose text is that one byte
  std::vector<TokenId> special_cache_;             // partition candidates, longest first
  std::vector<std::string> pieces_;                // token_to_piece(id, true)
  std::vector<uint8_t> eog_;                       // 1 for end-of-generation tokens
  size_t max_token_len_ = 0;
  float unigram_unknown_score_ = 0;
  uint64_t cache_owner_ = 0;            // WordCache identity of this instance
  // SPM: texts of characters that some token has right before a U+2581; merges can only
  // cross a "▁" preceded by one of them, so the text is split into words elsewhere.
  std::vector<std::string> spm_joiners_;
  StringIdMap spm_joiner_map_;
  static const std::string kEmpty;
};

// "\xE2\x96\x81" (U+2581), SentencePiece's visible space.
inline constexpr std::string_view kSpmSpace = "\xE2\x96\x81";
void escape_whitespace(std::string_view in, std::string* out);
std::string unescape_whitespace(std::string_view in);

}  // namespace plumb::tok
