// plumb run: generate text from a prompt, streaming it to stdout.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "command.h"
#include "engine_cli.h"
#include "plumb/generate.h"
#include "plumb/model.h"
#include "plumb/sampler.h"
#include "plumb/tokenizer.h"
#include "plumb/watermark.h"
#include "watermark_options.h"

namespace plumb::app {
namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  std::string prompt_ids;
  int32_t n_predict = 128;
  int32_t threads = 0;
  int32_t ctx = 0;
  CacheTypeCli cache_type;
  PageCacheCli page_cache;
  int32_t batch = 512;
  std::vector<std::string> stop;
  bool json = false;
  bool no_display_prompt = false;
  bool ignore_eos = false;
  bool context_shift = false;
  int32_t keep = -1;
  SamplingCli sampling;
  WatermarkCliOptions wm;
};

Result<std::vector<TokenId>> parse_ids(const std::string& s) {
  std::vector<TokenId> ids;
  std::istringstream in(s);
  std::string w;
  while (in >> w) {
    try {
      size_t used = 0;
      const long v = std::stol(w, &used);
      if (used != w.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(w);
      ids.push_back(static_cast<TokenId>(v));
    } catch (const std::exception&) {
      return Status::InvalidArgument("--prompt-ids: '" + w + "' is not a token id (expected non-negative integers)");
    }
  }
  if (ids.empty()) return Status::InvalidArgument("--prompt-ids: no ids given");
  return ids;
}

int run(RunOptions& o) {
  const int given = !o.prompt.empty() + !o.prompt_file.empty() + !o.prompt_ids.empty();
  if (given != 1) {
    print_error("run", "give exactly one of -p PROMPT, -f FILE or --prompt-ids \"1 2 3\"");
    return kExitUsage;
  }
  if (o.keep < -1) {
    print_error("run", "--keep " + std::to_string(o.keep) + ": expected -1 (the whole prompt) or a token count >= 0");
    return kExitUsage;
  }
  if (!o.prompt_file.empty()) {
    std::ifstream in(o.prompt_file, std::ios::binary);
    if (!in) {
      print_error("run", o.prompt_file + ": cannot read the prompt file");
      return kExitNotFound;
    }
    o.prompt.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto model = load_model_with_progress(o.model, o.page_cache.policy());
  if (!model.ok()) {
    print_error("run", model.status().message());
    return exit_code_for(model.status());
  }
  const ModelHParams& hp = (*model)->hparams();
  auto tok = Tokenizer::from_gguf((*model)->file());
  if (!tok.ok() && o.prompt_ids.empty()) {
    print_error("run", tok.status().message() + " (a text prompt needs the model's vocabulary; --prompt-ids works without)");
    return exit_code_for(tok.status());
  }
  const Tokenizer* tk = tok.ok() ? tok->get() : nullptr;

  std::vector<TokenId> prompt;
  if (!o.prompt_ids.empty()) {
    auto ids = parse_ids(o.prompt_ids);
    if (!ids.ok()) {
      print_error("run", ids.status().message());
      return kExitUsage;
    }
    prompt = *ids;
  } else {
    TokenizeOptions to;
    to.add_special = true;
    to.parse_special = true;
    prompt = tk->tokenize(o.prompt, to);
  }

  ContextParams cp;
  cp.n_ctx = o.ctx;
  cp.kv_type = o.cache_type.type();
  cp.n_batch = o.batch;
  cp.n_threads = o.threads;
  auto ctx = Context::create(**model, cp);
  if (!ctx.ok()) {
    print_error("run", ctx.status().message());
    return kExitError;
  }

  const SamplingParams sp = o.sampling.resolve();
  auto chain = make_sampler_chain(sp);
  if (o.wm.enabled()) {
    auto cfg = o.wm.to_config();
    if (!cfg.ok()) {
      print_error("run", cfg.status().message());
      return kExitUsage;
    }
    // The green lists partition the tokenizer's vocabulary (as the detector sees it).
    const int32_t vocab = tk != nullptr ? tk->n_vocab() : static_cast<int32_t>(hp.n_vocab);
    auto stage = make_watermark_stage(*cfg, vocab);
    if (!stage.ok()) {
      print_error("run", stage.status().message());
      return kExitUsage;
    }
    chain->insert(logit_stage_index(sp), std::move(*stage));
  }

  GenerateOptions go;
  go.n_predict = o.n_predict;
  go.stop = o.stop;
  go.stop_at_eog = !o.ignore_eos;
  go.context_shift = o.context_shift;
  if (o.keep >= 0) {
    // llama.cpp's --keep N counts prompt tokens after the BOS, which is always kept.
    const bool bos = tk != nullptr && tk->bos() != kNoToken && prompt.front() == tk->bos();
    go.n_keep = o.keep + (bos ? 1 : 0);
  }

  const bool stream = !o.json;
  if (stream && !o.no_display_prompt && tk != nullptr) {
    // Shown as llama.cpp shows it: without the leading BOS (whose presence would otherwise
    // keep the SentencePiece space prefix of the first word).
    size_t first = 0;
    while (first < prompt.size() && tk->is_special(prompt[first])) ++first;
    std::fputs(tk->detokenize(std::span<const TokenId>(prompt).subspan(first)).c_str(), stdout);
    std::fflush(stdout);
  }
  auto on_text = [&](std::string_view piece) {
    if (stream) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  };
  auto res = generate(**ctx, tk, *chain, prompt, go, on_text);
  if (!res.ok()) {
    if (stream) std::fputc('\n', stdout);
    print_error("run", res.status().message());
    return res.status().code() == StatusCode::kOutOfRange ? kExitUsage : kExitError;
  }
  if (stream) {
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  const GenerateTimings& t = res->timings;
  if (o.json) {
    nlohmann::json j;
    j["model"] = o.model;
    j["prompt_ids"] = prompt;
    j["ids"] = res->tokens;
    j["logprobs"] = res->logprobs;
    j["text"] = res->text;
    j["stop_reason"] = std::string(stop_reason_name(res->stop_reason));
    j["seed"] = sp.seed;
    j["context_shifts"] = res->n_shifts;
    j["discarded_tokens"] = res->n_discarded;
    if (o.wm.enabled()) {
      j["watermark"] = {{"gamma", o.wm.gamma}, {"delta", o.wm.delta}, {"scheme", o.wm.scheme}};
    }
    j["timings"] = {{"prompt_tokens", t.n_prompt},       {"prompt_ms", t.prompt_ms},
                    {"prompt_tok_s", t.prompt_tok_s()}, {"generated_tokens", t.n_generated},
                    {"generate_ms", t.generate_ms},     {"generate_tok_s", t.generate_tok_s()},
                    {"ms_per_token", t.ms_per_token()}, {"threads", (*ctx)->n_threads()}};
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  if (res->n_shifts > 0)
    std::fprintf(stderr, "\nplumb run: context shifted %d times; the model forgot %d earlier tokens\n", res->n_shifts,
                 res->n_discarded);
  if (res->stop_reason == StopReason::kContextFull)
    std::fprintf(stderr, "\nplumb run: stopped: the context is full (%d tokens); raise -c (the model allows %lld) or pass "
                 "--context-shift\n",
                 (*ctx)->n_ctx(), static_cast<long long>(hp.n_ctx_train));
  std::fprintf(stderr,
               "\nplumb run: prompt %d tok in %.1f ms (%.1f tok/s) | generated %d tok in %.1f ms (%.1f tok/s, %.2f "
               "ms/token) | %d threads | stop: %s\n",
               t.n_prompt, t.prompt_ms, t.prompt_tok_s(), t.n_generated, t.generate_ms, t.generate_tok_s(),
               t.ms_per_token(), (*ctx)->n_threads(), std::string(stop_reason_name(res->stop_reason)).c_str());
  return kExitOk;
}

const CommandRegistration kRegistration(
    "run", 20, "Generate text from a prompt with a GGUF model (streams to stdout)",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<RunOptions>();
      sub.add_option("-m,--model", o->model,
                     "model file (GGUF; llama (Mixtral too), qwen2, qwen2moe, qwen3, qwen3moe, phi3, gemma, gemma2, "
                     "gemma3, smollm3, olmo2, granite, granitemoe, command-r, cohere2 or ernie4_5 architecture)")
          ->required();
      sub.add_option("-p,--prompt", o->prompt, "prompt text (BOS is added as the vocabulary says)");
      sub.add_option("-f,--file", o->prompt_file, "read the prompt from a file");
      sub.add_option("--prompt-ids", o->prompt_ids, "the prompt as token ids, e.g. \"1 300 301\" (no BOS added)");
      sub.add_option("-n,--n-predict", o->n_predict,
                     "tokens to generate at most; -1 = until EOS or the context is full (with --context-shift: "
                     "until EOS)")
          ->capture_default_str();
      sub.add_option("-t,--threads", o->threads, "threads (default: all cores)");
      sub.add_option("-c,--ctx-size", o->ctx, "context size in tokens (default: the model's, at most 4096)");
      o->cache_type.add(sub);
      o->page_cache.add(sub);
      sub.add_option("-b,--batch-size", o->batch, "prompt tokens per forward pass")->capture_default_str();
      sub.add_option("--stop", o->stop, "stop when this text appears (repeatable); it is not printed");
      sub.add_flag("--ignore-eos", o->ignore_eos, "keep generating past end-of-generation tokens");
      auto* shift = sub.add_flag("--context-shift", o->context_shift,
                   "when the context is full, drop the older half of the tokens after the kept ones (--keep) and "
                   "go on instead of stopping; the model forgets the dropped tokens, and each shift costs a pass "
                   "over the KV cache (no re-evaluation)");
      sub.add_option("--keep", o->keep,
                     "--context-shift: prompt tokens never dropped, besides the BOS; -1 = the whole prompt. At "
                     "most half the context is kept")
          ->capture_default_str()
          ->needs(shift);
      sub.add_flag("--no-display-prompt", o->no_display_prompt, "print only the generated text");
      sub.add_flag("--json", o->json, "print one JSON object: ids, logprobs, text, stop reason, timings");
      o->sampling.add(sub);
      add_watermark_options(sub, o->wm, /*generation=*/true);
      sub.footer(
          "Prints the prompt, then the generated text as it is produced; a timing summary goes to stderr.\n"
          "Context shift: the prompt must fit in -c; without --context-shift generation stops when the context is\n"
          "full.  With it, the prompt (or BOS + its first --keep tokens; at most half the context) stays and the\n"
          "older half of the rest is dropped each time the context fills, so text goes on (llama.cpp's\n"
          "behaviour) but the model no longer sees what was dropped.\n"
          "Exit status: 0 ok, 1 model or generation error, 2 bad command line or prompt too long, 3 no such file.\n\n"
          "Examples:\n"
          "  plumb run -m model.gguf -p \"Once upon a time\" -n 100 --temp 0\n"
          "  plumb run -m model.gguf -p \"Write a haiku\" --temp 0.8 --top-k 40 --top-p 0.95 --seed 1\n"
          "  plumb run -m model.gguf --prompt-ids \"1 403 407\" -n 20 --temp 0 --json\n"
          "  plumb run -m model.gguf -f story.txt -c 2048 -n 8000 --context-shift --keep 32   # past the context\n"
          "  plumb run -m model.gguf -p \"Hello\" --watermark 123456789 --wm-gamma 0.25 --wm-delta 2.0");
      return [o] { return run(*o); };
    });

}  // namespace
}  // namespace plumb::app
