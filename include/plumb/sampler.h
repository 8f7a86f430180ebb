// plumb/sampler.h — the sampling chain: small stages that each transform the candidate
// list, and one that picks a token.
//
// Contract of the generation loop: for every prompt token and then every generated token,
// in order, it calls accept(token) on the chain, so stages that need the previous tokens
// (penalties, the watermark) see the whole context.
//
// Thread safety: a stage is single-threaded state; clone() one per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace plumb {

struct TokenCandidate {
  int32_t id;
  float logit;
  float p;  // filled by stages that normalise (softmax); otherwise 0
};

struct CandidateList {
  std::vector<TokenCandidate> items;
  bool sorted = false;      // true when items are sorted by logit, descending
  int32_t selected = -1;    // index into items chosen by a final stage; -1 when none yet
  // Resets to one candidate per logit, unsorted.
  void assign(std::span<const float> logits);
};

class SamplerStage {
 public:
  virtual ~SamplerStage() = default;
  virtual std::string_view name() const = 0;
  virtual void apply(CandidateList& cands) = 0;
  virtual void accept(int32_t token) {}
  virtual void reset() {}
  virtual std::unique_ptr<SamplerStage> clone() const = 0;
};

}  // namespace plumb

// ---------------------------------------------------------------------------------------
// Stages (src/sampling/).  Each factory returns an owned stage; none shares state.

namespace plumb {

// Penalises tokens seen in the last `last_n` accepted tokens, as llama.cpp does:
// repeat: logit > 0 ? logit / repeat : logit * repeat;  then
// logit -= count * frequency + (count > 0) * presence.  A value of 1 / 0 / 0 disables it.
std::unique_ptr<SamplerStage> make_penalties(int32_t last_n, float repeat, float frequency, float presence);
// Divides logits by `temp`.  REQUIRES: temp > 0 (temp 0 is greedy: use make_greedy).
std::unique_ptr<SamplerStage> make_temperature(float temp);
// Keeps the k highest logits (k <= 0: keep all); leaves the list sorted.
std::unique_ptr<SamplerStage> make_top_k(int32_t k);
// Keeps the smallest prefix (by probability, descending) whose mass reaches p; at least min_keep.
std::unique_ptr<SamplerStage> make_top_p(float p, size_t min_keep = 1);
// Keeps tokens whose probability is at least p times the largest one; at least min_keep.
std::unique_ptr<SamplerStage> make_min_p(float p, size_t min_keep = 1);
// Selects the highest logit (first on ties, lowest index in the original order).
std::unique_ptr<SamplerStage> make_greedy();
// Selects at random in proportion to softmax(logits) with its own std::mt19937 seeded with
// `seed`; clone() copies the generator state, reset() reseeds it.
std::unique_ptr<SamplerStage> make_dist(uint32_t seed);

// A stage made of stages, applied in order; accept/reset go to every stage.  The last stage
// is expected to select (greedy or dist).
class SamplerChain final : public SamplerStage {
 public:
  SamplerChain() = default;
  // Takes ownership.  `pos` is an index into the current stages (appends when past the end).
  void add(std::unique_ptr<SamplerStage> stage);
  void insert(size_t pos, std::unique_ptr<SamplerStage> stage);
  size_t size() const { return stages_.size(); }
  const SamplerStage& stage(size_t i) const { return *stages_[i]; }

  std::string_view name() const override { return "chain"; }
  void apply(CandidateList& cands) override;
  void accept(int32_t token) override;
  void reset() override;
  std::unique_ptr<SamplerStage> clone() const override;

  // Runs the chain over `logits` (reusing `cands` to avoid allocation) and returns the
  // selected token id, or -1 when no stage selected one.
  int32_t sample(std::span<const float> logits, CandidateList& cands);

 private:
  std::vector<std::unique_ptr<SamplerStage>> stages_;
};

struct SamplingParams {
  float temperature = 0.8f;     // <= 0: greedy
  int32_t top_k = 40;           // <= 0: off
  float top_p = 0.95f;          // >= 1: off
  float min_p = 0.05f;          // <= 0: off
  int32_t penalty_last_n = 64;  // window for the penalties
  float repeat_penalty = 1.0f;  // 1: off
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint32_t seed = 0;
};

// penalties -> top-k -> top-p -> min-p -> temperature -> dist, or penalties -> greedy when
// temperature <= 0 (llama.cpp's default order).  Stages that are off are left out.  The index
// just after the penalties (1 when penalties are on, else 0) is where logit-biasing stages
// such as the watermark belong: see logit_stage_index().
std::unique_ptr<SamplerChain> make_sampler_chain(const SamplingParams& params);
// Position in a make_sampler_chain() chain where a stage that edits raw logits goes.
size_t logit_stage_index(const SamplingParams& params);

// Softmax over cands.items' logits into .p (sorting descending first when not sorted).
void candidates_softmax(CandidateList& cands);
void candidates_sort(CandidateList& cands);

}  // namespace plumb
