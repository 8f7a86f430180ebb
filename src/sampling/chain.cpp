// SamplerChain: stages applied in order; the chain is itself a stage.
#include "plumb/sampler.h"

namespace plumb {

void SamplerChain::add(std::unique_ptr<SamplerStage> stage) { stages_.push_back(std::move(stage)); }

void SamplerChain::insert(size_t pos, std::unique_ptr<SamplerStage> stage) {
  if (pos > stages_.size()) pos = stages_.size();
  stages_.insert(stages_.begin() + static_cast<std::ptrdiff_t>(pos), std::move(stage));
}

void SamplerChain::apply(CandidateList& cands) {
  for (auto& s : stages_) s->apply(cands);
}

void SamplerChain::accept(int32_t token) {
  for (auto& s : stages_) s->accept(token);
}

void SamplerChain::reset() {
  for (auto& s : stages_) s->reset();
}

std::unique_ptr<SamplerStage> SamplerChain::clone() const {
  auto out = std::make_unique<SamplerChain>();
  for (const auto& s : stages_) out->add(s->clone());
  return out;
}

int32_t SamplerChain::sample(std::span<const float> logits, CandidateList& cands) {
  cands.assign(logits);
  apply(cands);
  if (cands.selected < 0 || cands.selected >= static_cast<int32_t>(cands.items.size())) return -1;
  return cands.items[static_cast<size_t>(cands.selected)].id;
}

std::unique_ptr<SamplerChain> make_sampler_chain(const SamplingParams& p) {
  auto chain = std::make_unique<SamplerChain>();
  const bool penalties = p.penalty_last_n != 0 &&
                         (p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f);
  if (penalties)
    chain->add(make_penalties(p.penalty_last_n, p.repeat_penalty, p.frequency_penalty, p.presence_penalty));
  if (p.temperature <= 0.0f) {
    chain->add(make_greedy());
    return chain;
  }
  if (p.top_k > 0) chain->add(make_top_k(p.top_k));
  if (p.top_p < 1.0f) chain->add(make_top_p(p.top_p));
  if (p.min_p > 0.0f) chain->add(make_min_p(p.min_p));
  chain->add(make_temperature(p.temperature));
  chain->add(make_dist(p.seed));
  return chain;
}

size_t logit_stage_index(const SamplingParams& p) {
  const bool penalties = p.penalty_last_n != 0 &&
                         (p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f);
  return penalties ? 1 : 0;
}

}  // namespace plumb
