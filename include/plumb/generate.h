// plumb/generate.h — the generation loop: prompt evaluation, sampling, stop conditions,
// UTF-8-safe streaming.
//
// Thread safety: generate() uses the Context and sampler it is given; one call at a time each.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/model.h"
#include "plumb/sampler.h"
#include "plumb/status.h"
#include "plumb/tokenizer.h"

namespace plumb {

enum class StopReason { kEndOfGeneration, kStopString, kTokenLimit, kContextFull, kCancelled };
std::string_view stop_reason_name(StopReason r);  // "eog", "stop_string", "limit", "context_full", "cancelled"

struct GenerateOptions {
  int32_t n_predict = 128;            // tokens to generate at most; < 0: until EOS or the context is full
  std::vector<std::string> stop;      // stop strings (not included in the text)
  std::vector<TokenId> stop_tokens;   // extra ids that end generation (e.g. a chat template's end-of-turn)
  bool stop_at_eog = true;            // stop at the tokenizer's EOS/EOT/EOM
  // Special tokens appear in the text as their own text ("<|channel|>"), for replies whose
  // structure is in them (gpt-oss's channels, read with HarmonyReader).
  bool render_special = false;
  // Context shift (off by default; then a full context ends generation with kContextFull).
  // When the context is full, keep its first n_keep positions, drop the older half of the
  // rest (Context::shift) and go on: generation can run past n_ctx, at the price that the
  // model no longer sees the dropped tokens.  With n_predict < 0 and no EOS it never ends.
  bool context_shift = false;
  // Positions at the start of the context a shift never drops.  -1 (default): everything the
  // context holds once the prompt is evaluated (the whole prompt, like llama.cpp's --keep -1);
  // N >= 0: the first N positions (callers add 1 for a BOS, as llama.cpp's --keep N does).
  // Either way at most n_ctx / 2, so that each shift frees at least a quarter of the context.
  int32_t n_keep = -1;
};

struct GenerateTimings {
  int32_t n_prompt = 0;      // prompt tokens evaluated
  double prompt_ms = 0;
  int32_t n_generated = 0;   // tokens sampled (the last one is not evaluated)
  double generate_ms = 0;    // sampling + evaluation of the generated tokens
  double prompt_tok_s() const { return prompt_ms > 0 ? n_prompt * 1000.0 / prompt_ms : 0; }
  double generate_tok_s() const { return generate_ms > 0 ? n_generated * 1000.0 / generate_ms : 0; }
  double ms_per_token() const { return n_generated > 0 ? generate_ms / n_generated : 0; }
};

struct GenerateResult {
  std::vector<TokenId> tokens;   // generated ids, in order (including a final EOS, if any)
  std::vector<float> logprobs;   // log p(token) under the model's unmodified distribution
  std::string text;              // decoded text of the generated tokens, cut at a stop string
  StopReason stop_reason = StopReason::kTokenLimit;
  GenerateTimings timings;
  int32_t n_shifts = 0;          // context shifts done (GenerateOptions::context_shift)
  int32_t n_discarded = 0;       // positions they dropped, all just after the kept n_keep ones
};

// Called with each piece of complete UTF-8 text as it becomes final; return false to stop
// (StopReason kCancelled).
using TextCallback = std::function<bool(std::string_view)>;

// Evaluates `prompt` after what the context already holds, then samples up to n_predict tokens.
// The sampler's accept() sees every prompt token, then every generated token, in order.
// `tok` may be null (no text, no EOS detection then).  Fails when the prompt does not fit in
// the context; running out of context while generating ends with StopReason kContextFull,
// or shifts the context when opts.context_shift is set.
Result<GenerateResult> generate(Context& ctx, const Tokenizer* tok, SamplerStage& sampler,
                                std::span<const TokenId> prompt, const GenerateOptions& opts,
                                const TextCallback& on_text = nullptr);

// log softmax(logits)[id], computed in double.
double token_logprob(std::span<const float> logits, TokenId id);
// Entropy of softmax(logits) in nats, computed in double.
double logits_entropy(std::span<const float> logits);

// How unsure the model was before each token of `ids`: out[i] is the entropy (nats) of its
// next-token distribution after `bos` (when >= 0) and ids[0 .. i-1]; out[0] is +infinity
// without a BOS (nothing predicts it).  Evaluates from an empty context (the context is
// cleared first).  A text longer than the context shifts it as generation does: keeps the
// BOS, drops the older half.  What selective watermark detection uses (Detector::detect with
// an exclusion mask): tokens predicted with low entropy carry almost no watermark signal.
Result<std::vector<float>> next_token_entropies(Context& ctx, std::span<const TokenId> ids, TokenId bos);

}  // namespace plumb
