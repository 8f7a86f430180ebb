// LocalEmbedder: decoder pooling over the engine's final hidden states.
#include <cmath>
#include <filesystem>

#include "plumb/gguf.h"
#include "rag/rag.h"

namespace plumb::rag {

struct LocalEmbedder::State {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
  std::unique_ptr<Context> ctx;
  EmbedderOptions opts;
  std::string name;
};

LocalEmbedder::LocalEmbedder(std::unique_ptr<State> s) : s_(std::move(s)) {}
LocalEmbedder::~LocalEmbedder() = default;

Result<std::unique_ptr<LocalEmbedder>> LocalEmbedder::load(const std::string& model_path, const EmbedderOptions& opts) {
  auto s = std::make_unique<State>();
  s->opts = opts;
  PLUMB_ASSIGN_OR_RETURN(s->model, Model::load(model_path));
  PLUMB_ASSIGN_OR_RETURN(s->tok, Tokenizer::from_gguf(s->model->file()));
  ContextParams cp;
  cp.n_ctx = opts.n_ctx > 0 ? static_cast<int32_t>(std::min<int64_t>(opts.n_ctx, s->model->hparams().n_ctx_train))
                            : 0;
  cp.n_threads = opts.n_threads;
  cp.embeddings = true;
  PLUMB_ASSIGN_OR_RETURN(s->ctx, Context::create(*s->model, cp));
  const ModelHParams& hp = s->model->hparams();
  const std::string who = hp.name.empty() ? std::filesystem::path(model_path).stem().string() : hp.name;
  s->name = "gguf:" + who + ":" + std::to_string(hp.n_embd) + ":" + (opts.pooling == Pooling::kMean ? "mean" : "last");
  return std::unique_ptr<LocalEmbedder>(new LocalEmbedder(std::move(s)));
}

std::string LocalEmbedder::model_name() const { return s_->name; }
int64_t LocalEmbedder::dimension() const { return s_->model->hparams().n_embd; }

Result<std::vector<std::vector<float>>> LocalEmbedder::embed(const std::vector<std::string>& texts) {
  const size_t E = static_cast<size_t>(dimension());
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  for (const std::string& text : texts) {
    std::vector<TokenId> ids = s_->tok->tokenize(text, {.add_special = true, .parse_special = false});
    if (ids.empty()) {
      // Empty text and no BOS in this vocabulary: embed something fixed rather than fail.
      const TokenId bos = s_->tok->bos();
      ids.push_back(bos >= 0 ? bos : 0);
    }
    if (ids.size() > static_cast<size_t>(s_->ctx->n_ctx())) ids.resize(static_cast<size_t>(s_->ctx->n_ctx()));
    s_->ctx->truncate(0);
    PLUMB_RETURN_IF_ERROR(s_->ctx->eval(ids));
    std::vector<double> acc(E, 0.0);
    if (s_->opts.pooling == Pooling::kMean) {
      for (size_t t = 0; t < ids.size(); ++t) {
        const auto h = s_->ctx->hidden_at(t);
        for (size_t i = 0; i < E; ++i) acc[i] += h[i];
      }
    } else {
      const auto h = s_->ctx->hidden_at(ids.size() - 1);
      for (size_t i = 0; i < E; ++i) acc[i] = h[i];
    }
    double norm = 0;
    for (double v : acc) norm += v * v;
    norm = std::sqrt(norm);
    if (!(norm > 0) || !std::isfinite(norm))
      return Status::InvalidArgument(s_->name + ": the pooled hidden state has norm " + std::to_string(norm) +
                              "; cannot normalise");
    std::vector<float> v(E);
    for (size_t i = 0; i < E; ++i) v[i] = static_cast<float>(acc[i] / norm);
    out.push_back(std::move(v));
  }
  return out;
}

bool looks_like_model_file(const std::string& arg) {
  if (arg.size() >= 5 && arg.compare(arg.size() - 5, 5, ".gguf") == 0) return true;
  std::error_code ec;
  return std::filesystem::is_regular_file(arg, ec);
}

}  // namespace plumb::rag
