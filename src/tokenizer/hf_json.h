// tokenizer/hf_json.h — reads a Hugging Face tokenizer.json into a VocabData.
//
// Supported: model BPE (byte-level with ByteLevel/Split/Digits pre-tokenizers, or
// SentencePiece-style with Metaspace/Prepend+Replace normalisers and byte fallback),
// Unigram (Metaspace), WordPiece (BertNormalizer).  Added tokens become control tokens
// (special: true) or user-defined tokens.  Not supported: precompiled normaliser maps.
#pragma once

#include <string>
#include <string_view>

#include "plumb/status.h"
#include "tokenizer/vocab.h"

namespace plumb::tok {

// `name` is used in messages.
Result<VocabData> vocab_from_hf_json(std::string_view json_text, const std::string& name);
Result<VocabData> vocab_from_hf_json_file(const std::string& path);

}  // namespace plumb::tok
