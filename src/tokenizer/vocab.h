// tokenizer/vocab.h — the vocabulary and tokenizer settings, independent of their source
// (GGUF metadata or a Hugging Face tokenizer.json).  A VocabData is plain data; building
// a Tokenizer from it (make_tokenizer) validates it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plumb/status.h"
#include "plumb/tokenizer.h"

namespace plumb::gguf { class File; }

namespace plumb::tok {

// Token attributes (a bit set), as llama.cpp derives them from tokenizer.ggml.token_type.
enum TokenAttr : uint8_t {
  kAttrNormal = 1 << 0,
  kAttrUnknown = 1 << 1,
  kAttrControl = 1 << 2,
  kAttrUserDefined = 1 << 3,
  kAttrUnused = 1 << 4,
  kAttrByte = 1 << 5,
  kAttrLstrip = 1 << 6,  // partitioning eats whitespace before the special token
  kAttrRstrip = 1 << 7,  // ... and after it
};

// tokenizer.ggml.token_type values.
enum GgufTokenType : int32_t {
  kTypeUndefined = 0, kTypeNormal = 1, kTypeUnknown = 2, kTypeControl = 3,
  kTypeUserDefined = 4, kTypeUnused = 5, kTypeByte = 6,
};
uint8_t attr_from_token_type(int64_t type);

struct VocabData {
  std::string source;               // file name, for messages
  TokenizerModel model = TokenizerModel::kSpm;
  std::string pre = "default";      // tokenizer.ggml.pre (BPE only)
  // Pre-tokenizer regexes (PCRE2 syntax, llama.cpp flavour).  Empty: chosen by `pre`.
  std::vector<std::string> pre_regexes;
  bool pre_regexes_explicit = false;  // use pre_regexes even when empty (tokenizer.json)
  bool byte_encode = true;          // BPE: GPT-2 byte<->unicode mapping of the input

  std::vector<std::string> tokens;
  std::vector<float> scores;        // empty or one per token
  std::vector<uint8_t> attrs;       // one TokenAttr set per token
  std::vector<std::string> merges;  // BPE: "left right", rank = index

  TokenId bos = kNoToken, eos = kNoToken, eot = kNoToken, eom = kNoToken;
  TokenId unk = kNoToken, sep = kNoToken, pad = kNoToken;

  bool add_bos = false;
  bool add_eos = false;
  bool add_sep = false;                   // WordPiece: SEP after the text
  bool add_space_prefix = false;          // SPM/Unigram: prepend a space to the text
  bool remove_extra_whitespaces = false;  // Unigram normalisation
  bool escape_whitespaces = false;        // space -> U+2581 before the model runs
  bool clean_spaces = false;              // detokenize: " ," -> "," etc.
  bool ignore_merges = false;             // BPE: a word that is a token is not merged
  bool lowercase = true;                  // WordPiece normaliser
  bool strip_accents = true;              // WordPiece normaliser

  std::string chat_template;
  std::string general_name;  // general.name and general.architecture: llama.cpp keys a few
  std::string general_arch;  // whitespace-stripping rules for special tokens on them
};

// Reads tokenizer.ggml.* from a model or vocab-only GGUF file and applies llama.cpp's
// per-model defaults (add_bos, clean_spaces, pre-tokenizer flags ...).
Result<VocabData> vocab_from_gguf(const gguf::File& file);

// Sets the flags llama.cpp derives from the model kind and `pre` (before metadata overrides).
// Fails for an unknown `pre` (BPE), naming it.
Status apply_model_defaults(VocabData* v);

// Validates `v` and builds the tokenizer (lookup tables, regexes).
Result<std::unique_ptr<Tokenizer>> make_tokenizer(VocabData v);

}  // namespace plumb::tok
