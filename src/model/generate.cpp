// The generation loop.
#include "plumb/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <utility>

namespace plumb {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Holds back text that might be the start of a stop string, so that a stop string split
// across tokens is never streamed.
class StopMatcher {
 public:
  explicit StopMatcher(const std::vector<std::string>& stops) : stops_(stops) {}

  // Appends `piece`; returns the text that is safe to emit.  Sets `hit` when a stop string
  // appeared (the returned text then ends just before it).
  std::string push(std::string_view piece, bool& hit) {
    pending_ += piece;
    hit = false;
    size_t cut = std::string::npos;
    for (const auto& s : stops_) {
      if (s.empty()) continue;
      const size_t at = pending_.find(s);
      if (at != std::string::npos && at < cut) cut = at;
    }
    if (cut != std::string::npos) {
      hit = true;
      std::string out = pending_.substr(0, cut);
      pending_.clear();
      return out;
    }
    // Keep the longest suffix of pending_ that is a proper prefix of some stop string.
    size_t keep = 0;
    for (const auto& s : stops_)
      for (size_t n = std::min(s.size() - (s.empty() ? 0 : 1), pending_.size()); n > keep; --n)
        if (pending_.compare(pending_.size() - n, n, s, 0, n) == 0) {
          keep = n;
          break;
        }
    std::string out = pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
    return out;
  }
  std::string flush() { return std::exchange(pending_, {}); }

 private:
  const std::vector<std::string>& stops_;
  std::string pending_;
};

}  // namespace

std::string_view stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kEndOfGeneration: return "eog";
    case StopReason::kStopString: return "stop_string";
    case StopReason::kTokenLimit: return "limit";
    case StopReason::kContextFull: return "context_full";
    case StopReason::kCancelled: return "cancelled";
  }
  return "unknown";
}

double token_logprob(std::span<const float> logits, TokenId id) {
  double mx = -INFINITY;
  for (float l : logits) mx = std::max(mx, static_cast<double>(l));
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - mx);
  return static_cast<double>(logits[static_cast<size_t>(id)]) - mx - std::log(sum);
}

Result<GenerateResult> generate(Context& ctx, const Tokenizer* tok, SamplerStage& sampler,
                                std::span<const TokenId> prompt, const GenerateOptions& opts,
                                const TextCallback& on_text) {
  GenerateResult res;
  if (prompt.empty()) return Status::InvalidArgument("the prompt is empty (no tokens to start from)");
  if (opts.n_keep < -1)
    return Status::InvalidArgument("n_keep is " + std::to_string(opts.n_keep) +
                                   "; expected -1 (the whole prompt) or a count of positions >= 0");
  const auto t0 = Clock::now();
  PLUMB_RETURN_IF_ERROR(ctx.eval(prompt));
  res.timings.n_prompt = static_cast<int32_t>(prompt.size());
  res.timings.prompt_ms = ms_since(t0);
  for (TokenId t : prompt) sampler.accept(t);
  const int32_t n_keep = std::min(opts.n_keep < 0 ? ctx.n_past() : opts.n_keep, ctx.n_ctx() / 2);

  std::optional<StreamingDetokenizer> detok;
  if (tok != nullptr) {
    detok.emplace(*tok, opts.render_special);
    // The generated text continues the prompt: run the prompt through the detokenizer (its
    // text is the caller's) so the first generated piece keeps its leading space.
    for (TokenId t : prompt) (void)detok->push(t);
    (void)detok->flush();
  }
  StopMatcher matcher(opts.stop);
  CandidateList cands;
  cands.items.reserve(ctx.model().hparams().n_vocab);
  bool stopped = false;
  auto emit = [&](const std::string& text) {
    if (text.empty()) return true;
    res.text += text;
    return on_text ? on_text(text) : true;
  };

  const auto t1 = Clock::now();
  const int32_t limit = opts.n_predict;
  while (limit < 0 || static_cast<int32_t>(res.tokens.size()) < limit) {
    auto logits = ctx.logits();
    cands.assign(logits);
    sampler.apply(cands);
    if (cands.selected < 0 || cands.selected >= static_cast<int32_t>(cands.items.size()))
      return Status::Internal("the sampler chain selected no token (it needs a greedy or dist stage last)");
    const TokenId id = cands.items[static_cast<size_t>(cands.selected)].id;
    res.tokens.push_back(id);
    res.logprobs.push_back(static_cast<float>(token_logprob(logits, id)));
    sampler.accept(id);

    const bool eog = (opts.stop_at_eog && tok != nullptr && tok->is_end_of_generation(id)) ||
                     std::find(opts.stop_tokens.begin(), opts.stop_tokens.end(), id) != opts.stop_tokens.end();
    if (eog) {
      res.stop_reason = StopReason::kEndOfGeneration;
      stopped = true;
      break;
    }
    if (detok) {
      bool hit = false;
      if (!emit(matcher.push(detok->push(id), hit))) {
        res.stop_reason = StopReason::kCancelled;
        stopped = true;
        break;
      }
      if (hit) {
        res.stop_reason = StopReason::kStopString;
        stopped = true;
        break;
      }
    }
    if (limit >= 0 && static_cast<int32_t>(res.tokens.size()) >= limit) break;
    if (ctx.n_past() >= ctx.n_ctx()) {
      if (!opts.context_shift) {
        res.stop_reason = StopReason::kContextFull;
        stopped = true;
        break;
      }
      // As llama.cpp: drop half of what follows the kept positions (at least one position).
      const int32_t n_discard = std::max(1, (ctx.n_past() - n_keep) / 2);
      PLUMB_RETURN_IF_ERROR(ctx.shift(n_keep, n_discard));
      ++res.n_shifts;
      res.n_discarded += n_discard;
    }
    const TokenId one[1] = {id};
    PLUMB_RETURN_IF_ERROR(ctx.eval(one));
  }
  if (!stopped) res.stop_reason = StopReason::kTokenLimit;
  if (detok && res.stop_reason != StopReason::kStopString && res.stop_reason != StopReason::kCancelled) {
    bool hit = false;
    std::string tail = matcher.push(detok->flush(), hit);
    if (!hit) tail += matcher.flush();
    else res.stop_reason = StopReason::kStopString;
    emit(tail);
  }
  res.timings.n_generated = static_cast<int32_t>(res.tokens.size());
  res.timings.generate_ms = ms_since(t1);
  return res;
}

}  // namespace plumb
