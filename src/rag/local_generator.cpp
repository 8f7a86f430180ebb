// LocalGenerator: one user message through the model's chat template (or plain), greedy by
// default, from an empty KV cache each call.
#include <algorithm>

#include "plumb/chat.h"
#include "plumb/generate.h"
#include "plumb/sampler.h"
#include "rag/rag.h"

namespace plumb::rag {

struct LocalGenerator::State {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
  std::unique_ptr<Context> ctx;
  GeneratorOptions opts;
  std::optional<ChatTemplate> tmpl;
  GenerateOptions gen;

  std::vector<TokenId> tokens_of(const std::string& prompt) const {
    if (!tmpl) return tok->tokenize(prompt, {.add_special = true, .parse_special = false});
    const std::vector<ChatMessage> msgs = {{"user", prompt}};
    return tok->tokenize(render_chat(*tmpl, msgs, /*add_assistant=*/true), {.add_special = true, .parse_special = true});
  }
};

LocalGenerator::LocalGenerator(std::unique_ptr<State> s) : s_(std::move(s)) {}
LocalGenerator::~LocalGenerator() = default;

Result<std::unique_ptr<LocalGenerator>> LocalGenerator::load(const std::string& model_path,
                                                             const GeneratorOptions& opts) {
  auto s = std::make_unique<State>();
  s->opts = opts;
  PLUMB_ASSIGN_OR_RETURN(s->model, Model::load(model_path));
  PLUMB_ASSIGN_OR_RETURN(s->tok, Tokenizer::from_gguf(s->model->file()));
  if (!opts.chat_template.empty()) {
    PLUMB_ASSIGN_OR_RETURN(ChatTemplate t, chat_template_from_name(opts.chat_template));
    s->tmpl = t;
  } else if (auto t = detect_chat_template(s->tok->chat_template()); t.ok()) {
    s->tmpl = *t;
  }
  ContextParams cp;
  cp.n_ctx = opts.n_ctx;
  cp.n_threads = opts.n_threads;
  PLUMB_ASSIGN_OR_RETURN(s->ctx, Context::create(*s->model, cp));
  if (opts.n_predict <= 0)
    return Status::InvalidArgument("answer length (-n) must be positive, got " + std::to_string(opts.n_predict));
  s->gen.n_predict = std::min(opts.n_predict, s->ctx->n_ctx() / 2);
  // gpt-oss reasons in one channel and answers in another: keep the answer.
  s->gen.render_special = s->tmpl == ChatTemplate::kGptOss;
  if (s->tmpl) {
    for (const auto& marker : chat_end_markers(*s->tmpl)) {
      s->gen.stop.push_back(marker);
      auto ids = s->tok->tokenize(marker, {.add_special = false, .parse_special = true});
      if (ids.size() == 1) s->gen.stop_tokens.push_back(ids[0]);
    }
  }
  return std::unique_ptr<LocalGenerator>(new LocalGenerator(std::move(s)));
}

size_t LocalGenerator::prompt_tokens(const std::string& prompt) const { return s_->tokens_of(prompt).size(); }

size_t LocalGenerator::prompt_budget() const {
  return static_cast<size_t>(s_->ctx->n_ctx() - s_->gen.n_predict);
}

bool LocalGenerator::uses_chat_template() const { return s_->tmpl.has_value(); }
const Model& LocalGenerator::model() const { return *s_->model; }

Result<std::string> LocalGenerator::generate(const std::string& prompt) {
  const std::vector<TokenId> ids = s_->tokens_of(prompt);
  if (ids.size() > prompt_budget())
    return Status::OutOfRange("the prompt (" + std::to_string(ids.size()) + " tokens) does not leave room for " +
                              std::to_string(s_->gen.n_predict) + " answer tokens in a context of " +
                              std::to_string(s_->ctx->n_ctx()) + " (raise -c or lower -k)");
  SamplingParams sp;
  sp.temperature = s_->opts.temperature;
  sp.seed = s_->opts.seed;
  auto chain = make_sampler_chain(sp);
  s_->ctx->truncate(0);
  PLUMB_ASSIGN_OR_RETURN(GenerateResult r, plumb::generate(*s_->ctx, s_->tok.get(), *chain, ids, s_->gen));
  if (s_->gen.render_special) {
    HarmonyReader channels;
    (void)channels.feed(r.text);
    (void)channels.finish();
    if (!channels.final_text().empty()) r.text = channels.final_text();
  }
  // Trim the whitespace a model often starts or ends an answer with.
  const size_t a = r.text.find_first_not_of(" \n\t");
  if (a == std::string::npos) return std::string();
  const size_t b = r.text.find_last_not_of(" \n\t");
  return r.text.substr(a, b - a + 1);
}

}  // namespace plumb::rag
