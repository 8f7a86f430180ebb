// OpenAI-compatible HTTP back ends: /v1/embeddings (Embedder) and /v1/chat/completions
// (AnswerGenerator).  Works with llama.cpp's server, vLLM, Ollama's OpenAI endpoint, ...
#include "index/http_client.h"
#include "plumb/doc_index.h"

namespace plumb::index {
namespace {

std::string strip_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

class OpenAiEmbedder final : public Embedder {
 public:
  OpenAiEmbedder(std::string url, std::string model, std::string key)
      : url_(std::move(url)), model_(std::move(model)), key_(std::move(key)) {}
  std::string model_name() const override { return model_; }

  Result<std::vector<std::vector<float>>> embed(const std::vector<std::string>& texts) override {
    nlohmann::json body = {{"model", model_}, {"input", texts}};
    PLUMB_ASSIGN_OR_RETURN(nlohmann::json reply, post_json(url_, body, key_));
    if (!reply.is_object() || !reply.contains("data") || !reply["data"].is_array())
      return Status::Corrupt(url_ + ": expected a JSON object with a 'data' array, got: " + reply.dump().substr(0, 120));
    std::vector<std::vector<float>> out(texts.size());
    size_t pos = 0;
    for (const auto& item : reply["data"]) {
      // Servers return items in order, but "index" is authoritative when present.
      size_t idx = pos++;
      if (item.contains("index") && item["index"].is_number_unsigned()) idx = item["index"].get<size_t>();
      if (idx >= out.size() || !item.contains("embedding") || !item["embedding"].is_array())
        return Status::Corrupt(url_ + ": 'data' item " + std::to_string(pos - 1) +
                               " has no 'embedding' array or a bad 'index'");
      for (const auto& x : item["embedding"]) {
        if (!x.is_number()) return Status::Corrupt(url_ + ": embedding holds a non-number");
        out[idx].push_back(x.get<float>());
      }
    }
    for (size_t i = 0; i < out.size(); ++i)
      if (out[i].empty()) return Status::Corrupt(url_ + ": no embedding returned for input " + std::to_string(i));
    return out;
  }

 private:
  std::string url_, model_, key_;
};

class OpenAiChat final : public AnswerGenerator {
 public:
  OpenAiChat(std::string base, std::string model, std::string key)
      : url_(strip_slash(std::move(base)) + "/chat/completions"), model_(std::move(model)), key_(std::move(key)) {}

  Result<std::string> generate(const std::string& prompt) override {
    nlohmann::json body = {{"model", model_},
                           {"messages", nlohmann::json::array({{{"role", "user"}, {"content", prompt}}})},
                           {"temperature", 0.2},
                           {"stream", false}};
    PLUMB_ASSIGN_OR_RETURN(nlohmann::json reply, post_json(url_, body, key_, 600));
    if (reply.is_object() && reply.contains("choices") && reply["choices"].is_array() && !reply["choices"].empty()) {
      const auto& c = reply["choices"][0];
      if (c.is_object() && c.contains("message") && c["message"].is_object() && c["message"].contains("content") &&
          c["message"]["content"].is_string())
        return c["message"]["content"].get<std::string>();
    }
    return Status::Corrupt(url_ + ": expected choices[0].message.content in the reply, got: " +
                           reply.dump().substr(0, 160));
  }

 private:
  std::string url_, model_, key_;
};

}  // namespace

std::unique_ptr<Embedder> make_openai_embedder(std::string url, std::string model, std::string api_key) {
  url = strip_slash(std::move(url));
  auto ends = [&](const std::string& x) { return url.size() >= x.size() && url.compare(url.size() - x.size(), x.size(), x) == 0; };
  if (ends("/v1")) url += "/embeddings";
  else if (!ends("/embeddings")) url += "/v1/embeddings";
  return std::make_unique<OpenAiEmbedder>(std::move(url), std::move(model), std::move(api_key));
}

std::unique_ptr<AnswerGenerator> make_openai_chat_generator(std::string api_base, std::string model,
                                                            std::string api_key) {
  return std::make_unique<OpenAiChat>(std::move(api_base), std::move(model), std::move(api_key));
}

}  // namespace plumb::index
