// plumb chat: an interactive conversation using the model's chat template.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <span>

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
  CacheTypeCli cache_type;
  PageCacheCli page_cache;
  std::string memory;  // long-term memory database; "" = none
  int recall = 3;
  bool show_prompt = false;
  bool context_shift = false;
  std::string reasoning = "medium";  // gpt-oss's reasoning effort
  SamplingCli sampling;
};

size_t common_prefix(std::span<const TokenId> a, std::span<const TokenId> b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

// The conversation's tokens as evaluated so far, and how they sit in the KV cache: all of them
// until a context shift; after shifts the cache holds tokens[0, keep) followed by
// tokens[keep + dropped, end) — the shifts dropped one contiguous run after the kept prefix.
struct CachedConversation {
  std::vector<TokenId> tokens;
  int32_t keep = 0;
  int32_t dropped = 0;
};

// Prepares the cache for the conversation `all` (re-rendered this turn): reuses the longest
// prefix already cached, and with `shift` makes room by dropping tokens after the first `keep`
// (the older half, as generation does, or more when the new tokens need it).  Returns the tokens
// to evaluate; `conv` then describes the cache as it will be once they are.
Result<std::vector<TokenId>> fit_turn(Context& ctx, CachedConversation& conv, const std::vector<TokenId>& all,
                                      int32_t keep, bool shift) {
  size_t common = common_prefix(conv.tokens, all);
  if (common == all.size()) --common;  // at least one token must be evaluated to get logits
  size_t cache_pos = common;
  int32_t dropped = conv.dropped;
  if (dropped > 0) {
    if (common >= static_cast<size_t>(conv.keep) + static_cast<size_t>(dropped)) {
      cache_pos = common - static_cast<size_t>(dropped);
      keep = conv.keep;  // the cache's layout: one kept prefix, one dropped run after it
    } else {
      // The conversation changed before the dropped run ended (/reset): only the kept prefix
      // of the cache is still the conversation's.
      common = cache_pos = std::min(common, static_cast<size_t>(conv.keep));
      dropped = 0;
    }
  }
  const int32_t n_ctx = ctx.n_ctx();
  keep = std::min(keep, n_ctx / 2);
  const int64_t n_new = static_cast<int64_t>(all.size() - common);
  const int64_t total = static_cast<int64_t>(cache_pos) + n_new;  // what the cache would hold
  int64_t discard = 0;
  if (total >= n_ctx && shift) {
    discard = std::max<int64_t>(total - n_ctx + 1, (total - keep) / 2);
    discard = std::min<int64_t>(discard, total - keep - 1);
  }
  // Room for at least one reply token is needed (as before shifts existed).
  if (total - discard >= n_ctx)
    return Status::OutOfRange("the conversation (" + std::to_string(all.size()) +
                              " tokens) no longer fits in the context (" + std::to_string(n_ctx) + "); " +
                              (shift ? "raise -c" : "/reset, raise -c or pass --context-shift"));
  ctx.truncate(static_cast<int32_t>(cache_pos));
  std::vector<TokenId> fresh(all.begin() + static_cast<std::ptrdiff_t>(common), all.end());
  if (discard > 0) {
    // The dropped run starts at `keep`: first what the cache holds after it, then (when the new
    // tokens alone do not fit) the oldest of the new tokens.
    const int64_t from_cache = std::clamp<int64_t>(static_cast<int64_t>(cache_pos) - keep, 0, discard);
    if (from_cache > 0) PLUMB_RETURN_IF_ERROR(ctx.shift(keep, static_cast<int32_t>(from_cache)));
    const int64_t at = std::max<int64_t>(0, keep - static_cast<int64_t>(cache_pos));
    fresh.erase(fresh.begin() + at, fresh.begin() + at + (discard - from_cache));
  }
  conv.tokens = all;
  conv.keep = keep;
  conv.dropped = dropped + static_cast<int32_t>(discard);
  return fresh;
}

int run(ChatOptions& o) {
  auto model = load_model_with_progress(o.model, o.page_cache.policy());
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
  cp.kv_type = o.cache_type.type();
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
  CachedConversation conv;
  // A context shift keeps the system message (and BOS): the tokens the conversation shares with
  // the system message rendered alone.
  std::vector<ChatMessage> system_only(history.begin(), history.end());
  const ChatRenderOptions render{.today = {}, .reasoning_effort = o.reasoning};
  const auto system_tokens = tk.tokenize(render_chat(*tmpl, system_only, /*add_assistant=*/false, render),
                                         {.add_special = true, .parse_special = true});
  go.context_shift = o.context_shift;
  // gpt-oss writes its reasoning and its answer in channels marked by special tokens: render
  // them, show the reasoning on stderr (dim on a terminal) and the answer on stdout, and keep
  // only the answer in the history, as its template expects.
  const bool harmony = *tmpl == ChatTemplate::kGptOss;
  go.render_special = harmony;
  const bool dim = stderr_is_terminal();
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
    const std::string text = render_chat(*tmpl, messages, /*add_assistant=*/true, render);
    if (o.show_prompt) std::fprintf(stderr, "--- prompt ---\n%s\n--- end of prompt ---\n", text.c_str());
    const auto all = tk.tokenize(text, {.add_special = true, .parse_special = true});
    // Reuse the longest common prefix already in the KV cache; evaluate only the rest.
    const int32_t keep = static_cast<int32_t>(common_prefix(system_tokens, all));
    const int32_t dropped_before = conv.dropped;
    auto fresh = fit_turn(**ctx, conv, all, keep, o.context_shift);
    if (!fresh.ok()) {
      print_error("chat", fresh.status().message());
      history.pop_back();
      continue;
    }
    go.n_keep = conv.keep;  // generation's own shifts extend the same dropped run
    HarmonyReader channels;
    bool shown = false;
    auto show = [&](const std::vector<HarmonyReader::Segment>& segments) {
      for (const auto& s : segments) {
        shown = true;
        if (s.channel == "final") {
          std::fwrite(s.text.data(), 1, s.text.size(), stdout);
          std::fflush(stdout);
        } else {
          std::fprintf(stderr, "%s%s%s", dim ? "\033[2m" : "", s.text.c_str(), dim ? "\033[0m" : "");
        }
      }
    };
    auto res = generate(**ctx, &tk, *chain, *fresh, go, [&](std::string_view piece) {
      if (harmony) {
        show(channels.feed(piece));
        return true;
      }
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    });
    if (harmony) {
      show(channels.finish());
      // A reply outside any channel is shown (and kept) as it is.
      if (!shown && res.ok()) std::fwrite(res->text.data(), 1, res->text.size(), stdout);
      if (res.ok() && shown) res->text = channels.final_text();
    }
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (!res.ok()) {
      print_error("chat", res.status().message());
      return kExitError;
    }
    // Every generated token but the last has been evaluated.
    if (!res->tokens.empty()) conv.tokens.insert(conv.tokens.end(), res->tokens.begin(), res->tokens.end() - 1);
    conv.dropped += res->n_discarded;
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
    if (conv.dropped != dropped_before && conv.dropped > 0)
      std::fprintf(stderr, "[context shift: the model no longer sees %d earlier tokens of the conversation]\n",
                   conv.dropped);
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
                     "mistral, gemma, phi3, zephyr, gpt-oss (harmony: the reasoning channel goes to stderr, the "
                     "answer to stdout)");
      sub.add_option("--system", o->system, "system message opening the conversation");
      sub.add_option("--reasoning", o->reasoning, "gpt-oss: how much the model reasons before it answers")
          ->check(CLI::IsMember({"low", "medium", "high"}))
          ->capture_default_str();
      sub.add_option("-n,--n-predict", o->n_predict, "tokens per reply at most; -1 = until end of turn")
          ->capture_default_str();
      sub.add_option("-t,--threads", o->threads, "threads (default: all cores)");
      sub.add_option("-c,--ctx-size", o->ctx, "context size in tokens (default: the model's, at most 4096)");
      o->cache_type.add(sub);
      o->page_cache.add(sub);
      sub.add_option("--memory", o->memory,
                     "long-term memory database (SQLite, created when missing): every turn is stored, and "
                     "relevant turns of earlier sessions are recalled into new messages");
      sub.add_option("--recall", o->recall, "--memory: earlier turns recalled per message at most")
          ->capture_default_str()
          ->check(CLI::Range(0, 50));
      sub.add_flag("--show-prompt", o->show_prompt, "print each rendered prompt to stderr before the reply");
      sub.add_flag("--context-shift", o->context_shift,
                   "when the conversation outgrows the context (-c), drop its oldest part from the KV cache "
                   "(the system message stays) and go on instead of refusing; the model forgets what was "
                   "dropped (each shift drops about half of what follows the system message, like llama.cpp)");
      o->sampling.add(sub);
      sub.footer(
          "Reads one user message per line from stdin and streams the reply; the history is kept (and its KV cache\n"
          "reused) until /reset or end of input.  Timings per reply go to stderr.  A conversation longer than the\n"
          "context is refused unless --context-shift lets the model forget its oldest tokens.\n"
          "Exit status: 0 ok, 1 model error or unrecognised template, 2 bad command line, 3 no such file.\n\n"
          "Examples:\n"
          "  plumb chat -m qwen2.5-0.5b-instruct-q8_0.gguf\n"
          "  plumb chat -m model.gguf --chat-template chatml --system \"You are terse.\" --temp 0.7\n"
          "  echo \"What is 2+2?\" | plumb chat -m model.gguf --temp 0\n"
          "  plumb chat -m model.gguf --memory ~/.plumb-memory.db   # remembers earlier sessions\n"
          "  plumb chat -m model.gguf -c 2048 --context-shift        # long chats: forgets the oldest part");
      return [o] { return run(*o); };
    });

}  // namespace
}  // namespace plumb::app
