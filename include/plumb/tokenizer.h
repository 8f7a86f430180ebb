// plumb/tokenizer.h — text <-> token ids, exactly as the model's reference tokenizer does it.
//
// Thread safety: a Tokenizer is immutable after construction; tokenize/detokenize may be
// called from many threads at once.  A StreamingDetokenizer is single-threaded state.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/status.h"

namespace plumb {

namespace gguf { class File; }

using TokenId = int32_t;
constexpr TokenId kNoToken = -1;

enum class TokenizerModel { kSpm, kBpe, kWordPiece, kUnigram };

struct TokenizeOptions {
  bool add_special = true;     // add BOS/EOS (or CLS/SEP) as the vocabulary's metadata says
  bool parse_special = false;  // recognise special/control token texts inside the input
};

class Tokenizer {
 public:
  // From a model or vocab-only GGUF file (tokenizer.ggml.* keys).
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const gguf::File& file);
  static Result<std::unique_ptr<Tokenizer>> from_gguf_path(const std::string& path);
  // From a Hugging Face tokenizer.json (BPE or Unigram models).
  static Result<std::unique_ptr<Tokenizer>> from_hf_json(const std::string& path);
  // Picks by file content: GGUF magic, else tokenizer.json.
  static Result<std::unique_ptr<Tokenizer>> from_path(const std::string& path);

  virtual ~Tokenizer() = default;

  // Never fails: invalid UTF-8 is tokenized as its bytes (byte fallback) or mapped to UNK.
  virtual std::vector<TokenId> tokenize(std::string_view text, const TokenizeOptions& opts = {}) const = 0;
  // The bytes a token stands for (may be part of a UTF-8 character).  Special tokens
  // render as their text only when `render_special`.
  virtual std::string token_to_piece(TokenId id, bool render_special = false) const = 0;
  // Joins pieces, applying the leading-space rules of the vocabulary.
  virtual std::string detokenize(std::span<const TokenId> ids, bool render_special = false) const = 0;
  // Like detokenize, for ids that continue earlier text: the leading-space rule that
  // applies to the first token of a text is not applied.
  virtual std::string detokenize_continuation(std::span<const TokenId> ids, bool render_special = false) const {
    return detokenize(ids, render_special);
  }
  // True when detokenize removes spaces before punctuation (" ," -> ","), which makes
  // the text of a token depend on the next one.
  virtual bool cleans_spaces() const { return false; }

  virtual TokenizerModel model() const = 0;
  virtual int32_t n_vocab() const = 0;
  virtual const std::string& token_text(TokenId id) const = 0;  // as stored in the vocabulary
  virtual TokenId bos() const = 0;  // kNoToken when absent
  virtual TokenId eos() const = 0;
  virtual TokenId eot() const = 0;
  virtual bool is_end_of_generation(TokenId id) const = 0;  // EOS, EOT, EOM
  virtual bool is_special(TokenId id) const = 0;             // control / user-defined
  // tokenizer.chat_template, empty when absent.
  virtual const std::string& chat_template() const = 0;
};

// Turns a stream of tokens into text without ever emitting half a UTF-8 character.
class StreamingDetokenizer {
 public:
  // `tok` must outlive this object.
  explicit StreamingDetokenizer(const Tokenizer& tok, bool render_special = false);
  // Returns the complete UTF-8 text that became available with this token.
  std::string push(TokenId id);
  // Returns whatever is left (invalid trailing bytes become U+FFFD).
  std::string flush();

 private:
  std::string take(bool final);

  const Tokenizer& tok_;
  bool render_special_;
  bool first_ = true;          // no window has been closed yet
  std::vector<TokenId> ids_;   // tokens since the last closed window
  size_t emitted_ = 0;         // bytes of the window's text already returned
};

}  // namespace plumb
