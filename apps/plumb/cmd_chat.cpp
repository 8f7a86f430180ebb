// plumb chat: an interactive conversation using the model's chat template.
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>

#include "command.h"
#include "engine_cli.h"
#include "plumb/chat.h"
#include "plumb/doc_index.h"
#include "plumb/generate.h"
#include "plumb/model.h"
#include "plumb/tokenizer.h"
#include "rag/rag.h"

namespace plumb::app {
namespace {

struct ChatOptions {
  std::string model;
  std::string chat_template;
  std::string system;
  int32_t n_predict = -1;
  int32_t threads = 0;
  int32_t ctx = 0;
  std::string memory;  // long-term memory database; "" = none
  int recall = 3;
  bool show_prompt = false;
  SamplingCli sampling;
};

int run(ChatOptions& o) {
  auto model = load_model_with_progress(o.model);
  if (!model.ok()) {
    print_error("chat", model.status().message());
    return exit_code_for(model.status());
  }
  auto tok = Tokenizer::from_gguf((*model)->file());
  if (!tok.ok()) {
    print_error("chat", tok.status().message());
    return exit_code_for(tok.status());
  }
  const Tokenizer& tk = **tok;
  Result<ChatTemplate> tmpl = o.chat_template.empty() ? detect_chat_template(tk.chat_template())
                                                      : chat_template_from_name(o.chat_template);
  if (!tmpl.ok()) {
    print_error("chat", o.model + ": " + tmpl.status().message());
    return o.chat_template.empty() ? kExitError : kExitUsage;
  }
  ContextParams cp;
  cp.n_ctx = o.ctx;
  cp.n_threads = o.threads;
  auto ctx = Context::create(**model, cp);
  if (!ctx.ok()) {
    print_error("chat", ctx.status().message());
    return kExitError;
  }
  auto chain = make_sampler_chain(o.sampling.resolve());

  // Long-term memory: every turn is stored; turns of earlier sessions relevant to a new message
  // are quoted inside that message (see rag::message_with_memory).
  std::unique_ptr<index::ChatMemory> memory;
  const std::string session = "chat-" + std::to_string(std::time(nullptr)) + "-" + std::to_string(getpid());
  if (!o.memory.empty()) {
    auto m = index::ChatMemory::open(o.memory);
    if (!m.ok()) {
      print_error("chat", o.memory + ": " + m.status().message());
      return kExitError;
    }
    memory = std::move(*m);
  }

  // End-of-turn markers that are single special tokens stop generation by id; all of them
  // also stop as text, in case the vocabulary spells them as ordinary pieces.
  GenerateOptions go;
  go.n_predict = o.n_predict;
  for (const auto& marker : chat_end_markers(*tmpl)) {
    go.stop.push_back(marker);
    auto ids = tk.tokenize(marker, {.add_special = false, .parse_special = true});
    if (ids.size() == 1) go.stop_tokens.push_back(ids[0]);
  }

  std::vector<ChatMessage> history;
  if (!o.system.empty()) history.push_back({"system", o.system});
  std::vector<TokenId> in_context;  // the tokens whose keys/values the KV cache holds
  const bool tty = isatty(STDIN_FILENO);
  if (tty)
    std::fprintf(stderr, "plumb chat: %s template; Ctrl-D to quit, /reset to clear the history\n",
                 std::string(chat_template_name(*tmpl)).c_str());
  std::string line;
  while (true) {
    if (tty) {
      std::fputs("\n> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (line == "/reset") {
      history.resize(o.system.empty() ? 0 : 1);
      continue;
    }
    history.push_back({"user", line});
    std::vector<ChatMessage> messages = history;
    if (memory) {
      auto recalled = memory->recall(line, o.recall);
      auto stored = recalled.ok() ? memory->add_turn(session, "user", line) : Result<int64_t>(recalled.status());
      if (!stored.ok()) {
        print_error("chat", o.memory + ": " + stored.status().message());
        return kExitError;
      }
      messages.back().content = rag::message_with_memory(line, *recalled, session);
    }
    const std::string text = render_chat(*tmpl, messages, /*add_assistant=*/true);
    if (o.show_prompt) std::fprintf(stderr, "--- prompt ---\n%s\n--- end of prompt ---\n", text.c_str());
    const auto all = tk.tokenize(text, {.add_special = true, .parse_special = true});
    // Reuse the longest common prefix already in the KV cache; evaluate only the rest.
    size_t keep = 0;
    while (keep < in_context.size() && keep < all.size() && in_context[keep] == all[keep]) ++keep;
    if (keep == all.size()) --keep;  // at least one token must be evaluated to get logits
    (*ctx)->truncate(static_cast<int32_t>(keep));
    in_context.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep));
    std::vector<TokenId> fresh(all.begin() + static_cast<std::ptrdiff_t>(keep), all.end());
    if (static_cast<int64_t>(all.size()) >= (*ctx)->n_ctx()) {
      print_error("chat", "the conversation (" + std::to_string(all.size()) + " tokens) no longer fits in the context (" +
                              std::to_string((*ctx)->n_ctx()) + "); /reset or raise -c");
      history.pop_back();
      continue;
    }
    auto res = generate(**ctx, &tk, *chain, fresh, go, [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    });
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (!res.ok()) {
      print_error("chat", res.status().message());
      return kExitError;
    }
    in_context.insert(in_context.end(), fresh.begin(), fresh.end());
    // Every generated token but the last has been evaluated.
    if (!res->tokens.empty()) in_context.insert(in_context.end(), res->tokens.begin(), res->tokens.end() - 1);
    history.push_back({"assistant", res->text});
    if (memory) {
      if (auto st = memory->add_turn(session, "assistant", res->text); !st.ok()) {
        print_error("chat", o.memory + ": " + st.status().message());
        return kExitError;
      }
    }
    const auto& t = res->timings;
    std::fprintf(stderr, "[%d tok, %.1f tok/s, %.2f ms/token; prompt %d tok at %.1f tok/s]\n", t.n_generated,
                 t.generate_tok_s(), t.ms_per_token(), t.n_prompt, t.prompt_tok_s());
  }
  return kExitOk;
}

const CommandRegistration kRegistration(
    "chat", 21, "Chat with a model interactively, using its chat template",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<ChatOptions>();
      sub.add_option("-m,--model", o->model, "model file (GGUF)")->required();
      sub.add_option("--chat-template", o->chat_template,
                     "template family when the model's own is not recognised: chatml, llama2, llama2-sys, llama3, "
                     "mistral, gemma, phi3, zephyr");
      sub.add_option("--system", o->system, "system message opening the conversation");
      sub.add_option("-n,--n-predict", o->n_predict, "tokens per reply at most; -1 = until end of turn")
          ->capture_default_str();
      sub.add_option("-t,--threads", o->threads, "threads (default: all cores)");
      sub.add_option("-c,--ctx-size", o->ctx, "context size in tokens (default: the model's, at most 4096)");
      sub.add_option("--memory", o->memory,
                     "long-term memory database (SQLite, created when missing): every turn is stored, and "
                     "relevant turns of earlier sessions are recalled into new messages");
      sub.add_option("--recall", o->recall, "--memory: earlier turns recalled per message at most")
          ->capture_default_str()
          ->check(CLI::Range(0, 50));
      sub.add_flag("--show-prompt", o->show_prompt, "print each rendered prompt to stderr before the reply");
      o->sampling.add(sub);
      sub.footer(
          "Reads one user message per line from stdin and streams the reply; the history is kept (and its KV cache\n"
          "reused) until /reset or end of input.  Timings per reply go to stderr.\n"
          "Exit status: 0 ok, 1 model error or unrecognised template, 2 bad command line, 3 no such file.\n\n"
          "Examples:\n"
          "  plumb chat -m qwen2.5-0.5b-instruct-q8_0.gguf\n"
          "  plumb chat -m model.gguf --chat-template chatml --system \"You are terse.\" --temp 0.7\n"
          "  echo \"What is 2+2?\" | plumb chat -m model.gguf --temp 0\n"
          "  plumb chat -m model.gguf --memory ~/.plumb-memory.db   # remembers earlier sessions");
      return [o] { return run(*o); };
    });

}  // namespace
}  // namespace plumb::app
