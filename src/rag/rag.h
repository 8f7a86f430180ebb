// rag/rag.h — the documents index (src/index) wired to the local engine (src/model): an
// AnswerGenerator and an Embedder that run a GGUF model in-process, the prompt fitting that
// keeps `index ask` inside the context, and the chat-memory prompt for `plumb chat --memory`.
//
// The index module never depends on the engine; this module sits above both.
//
// Thread safety: a LocalGenerator or LocalEmbedder owns a Context and is used from one thread
// at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "plumb/doc_index.h"
#include "plumb/model.h"
#include "plumb/status.h"
#include "plumb/tokenizer.h"

namespace plumb::rag {

struct GeneratorOptions {
  int32_t n_ctx = 0;        // 0 = the model's, at most 4096
  int32_t n_threads = 0;    // 0 = all cores
  int32_t n_predict = 256;  // answer tokens at most
  float temperature = 0;    // 0 = greedy: answers from documents should be reproducible
  uint32_t seed = 0;
  std::string chat_template;  // family name; "" = detect from the model, plain prompt when unknown
};

// Answers a prompt with a local model: wrapped in the model's chat template as one user
// message when it has a recognised one, else sent as plain text.
class LocalGenerator : public index::AnswerGenerator {
 public:
  static Result<std::unique_ptr<LocalGenerator>> load(const std::string& model_path, const GeneratorOptions& opts);
  ~LocalGenerator() override;

  Result<std::string> generate(const std::string& prompt) override;
  // Tokens `prompt` occupies once wrapped as generate() sends it.
  size_t prompt_tokens(const std::string& prompt) const;
  // Prompt tokens that leave room for the answer: n_ctx - n_predict (n_predict capped at half
  // the context).
  size_t prompt_budget() const;
  bool uses_chat_template() const;
  const Model& model() const;

  struct State;

 private:
  explicit LocalGenerator(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// The answer prompt for `hits`, fitted to `max_tokens` as counted by `count_tokens`: passages are
// shortened (halving their length, down to 120 characters), then the lowest-ranked ones are dropped.
// `*used` receives how many hits the prompt quotes.  InvalidArgument when even one short
// passage does not fit.
Result<std::string> fit_answer_prompt(const std::string& question, const std::vector<index::SearchHit>& hits,
                                      size_t max_tokens, const std::function<size_t(const std::string&)>& count_tokens,
                                      size_t* used);

// index::answer_question with a local model: the same retrieval, the prompt fitted to the context.
// `sources` lists only the passages the prompt quotes.
Result<index::Answer> answer_with_local_model(index::DocIndex& index, const std::string& question,
                                              const index::QueryOptions& options, LocalGenerator& generator);

enum class Pooling { kMean, kLast };

struct EmbedderOptions {
  Pooling pooling = Pooling::kMean;
  int32_t n_ctx = 512;     // longer texts are cut to their first n_ctx tokens
  int32_t n_threads = 0;
};

// Decoder embeddings: the final hidden states (after output_norm) pooled by mean or last token,
// then L2-normalised.  BERT-style encoders are not supported (the engine runs llama/qwen2 only).
class LocalEmbedder : public index::Embedder {
 public:
  static Result<std::unique_ptr<LocalEmbedder>> load(const std::string& model_path, const EmbedderOptions& opts);
  ~LocalEmbedder() override;
  // "gguf:<general.name or file stem>:<n_embd>:<mean|last>".
  std::string model_name() const override;
  Result<std::vector<std::vector<float>>> embed(const std::vector<std::string>& texts) override;
  int64_t dimension() const;

  struct State;

 private:
  explicit LocalEmbedder(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// Whether `arg` names a local model file rather than a server-side model name (ends in .gguf or
// is an existing file).
bool looks_like_model_file(const std::string& arg);

// Chat memory: the user's message with relevant turns of earlier sessions quoted before it.
// Turns of `session` are left out (the live history already holds them); at most
// `max_chars` of quoted text.  With nothing recalled, returns `message` unchanged.
std::string message_with_memory(const std::string& message, const std::vector<index::MemoryTurn>& recalled,
                                const std::string& session, size_t max_chars = 1200);

}  // namespace plumb::rag
