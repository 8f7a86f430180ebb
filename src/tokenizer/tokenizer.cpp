// Tokenizer factories: GGUF metadata, Hugging Face tokenizer.json, or either by content.
#include <cstdio>
#include <cstring>

#include "plumb/gguf.h"
#include "plumb/tokenizer.h"
#include "tokenizer/hf_json.h"
#include "tokenizer/vocab.h"

namespace plumb {

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const gguf::File& file) {
  PLUMB_ASSIGN_OR_RETURN(tok::VocabData v, tok::vocab_from_gguf(file));
  return tok::make_tokenizer(std::move(v));
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf_path(const std::string& path) {
  PLUMB_ASSIGN_OR_RETURN(auto file, gguf::File::open(path));
  return from_gguf(*file);
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_hf_json(const std::string& path) {
  PLUMB_ASSIGN_OR_RETURN(tok::VocabData v, tok::vocab_from_hf_json_file(path));
  return tok::make_tokenizer(std::move(v));
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_path(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::NotFound(path + ": cannot open: " + std::strerror(errno));
  char magic[4] = {};
  const size_t n = std::fread(magic, 1, 4, f);
  std::fclose(f);
  if (n == 4 && std::memcmp(magic, "GGUF", 4) == 0) return from_gguf_path(path);
  return from_hf_json(path);
}

}  // namespace plumb
