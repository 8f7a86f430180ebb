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
