// Table-driven tests of each sampling stage, with expected values computed by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "plumb/sampler.h"

namespace plumb {
namespace {

std::vector<float> logits_of_probs(const std::vector<float>& probs) {
  std::vector<float> l;
  for (float p : probs) l.push_back(std::log(p));
  return l;
}

// Applies `stage` to `probs` (as log-probabilities) and returns the surviving probabilities,
// renormalised, in descending order.
std::vector<float> run(SamplerStage& stage, const std::vector<float>& probs) {
  CandidateList c;
  auto l = logits_of_probs(probs);
  c.assign(l);
  stage.apply(c);
  candidates_softmax(c);
  std::vector<float> out;
  for (auto& it : c.items) out.push_back(it.p);
  return out;
}

void expect_probs(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "index " << i;
}

struct Case {
  std::vector<float> in;
  std::vector<float> want;
  float param;
};

TEST(TopK, Table) {
  const std::vector<Case> cases = {
      {{0.1f, 0.2f, 0.3f, 0.4f}, {1.0f}, 1},
      {{0.1f, 0.2f, 0.3f, 0.4f}, {0.44444f, 0.33333f, 0.22222f}, 3},
      {{0.1f, 0.2f, 0.3f, 0.4f}, {0.4f, 0.3f, 0.2f, 0.1f}, 4},
      {{0.1f, 0.2f, 0.3f, 0.4f}, {0.4f, 0.3f, 0.2f, 0.1f}, 0},  // 0 = off
  };
  for (const auto& c : cases) {
    auto s = make_top_k(static_cast<int32_t>(c.param));
    expect_probs(run(*s, c.in), c.want);
  }
}

TEST(TopP, Table) {
  const std::vector<Case> cases = {
      {{0.1f, 0.2f, 0.3f, 0.4f}, {1.0f}, 0.0f},
      {{0.1f, 0.2f, 0.3f, 0.4f}, {0.571429f, 0.428571f}, 0.7f},
      {{0.1f, 0.2f, 0.3f, 0.4f}, {0.44444f, 0.33333f, 0.22222f}, 0.8f},
      {{0.1f, 0.2f, 0.3f, 0.4f}, {0.4f, 0.3f, 0.2f, 0.1f}, 1.0f},
  };
  for (const auto& c : cases) {
    auto s = make_top_p(c.param);
    expect_probs(run(*s, c.in), c.want);
  }
}

TEST(MinP, Table) {
  const std::vector<Case> cases = {
      {{0.1f, 0.2f, 0.3f, 0.4f}, {0.4f, 0.3f, 0.2f, 0.1f}, 0.0f},
      {{0.1f, 0.2f, 0.3f, 0.4f}, {0.4f, 0.3f, 0.2f, 0.1f}, 0.24f},
      {{0.1f, 0.2f, 0.3f, 0.4f}, {0.44444f, 0.33333f, 0.22222f}, 0.26f},
      {{0.1f, 0.2f, 0.3f, 0.4f}, {0.571429f, 0.428571f}, 0.74f},
      {{0.1f, 0.2f, 0.3f, 0.4f}, {1.0f}, 0.76f},
      {{0.1f, 0.2f, 0.3f, 0.4f}, {1.0f}, 1.0f},
  };
  for (const auto& c : cases) {
    auto s = make_min_p(c.param);
    expect_probs(run(*s, c.in), c.want);
  }
}

TEST(Temperature, ScalesLogits) {
  const std::vector<std::pair<float, std::vector<float>>> cases = {
      {1.0f, {2.0f, -1.0f, 0.5f}}, {2.0f, {1.0f, -0.5f, 0.25f}}, {0.5f, {4.0f, -2.0f, 1.0f}}};
  for (const auto& [t, want] : cases) {
    auto s = make_temperature(t);
    CandidateList c;
    std::vector<float> l = {2.0f, -1.0f, 0.5f};
    c.assign(l);
    s->apply(c);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ(c.items[i].logit, want[i]) << "t=" << t;
  }
}

TEST(Penalties, Table) {
  // Logits for ids 0..4; history 0, 1, 1, 3 (id 3 counted once, id 1 twice).
  const std::vector<float> logits = {2.0f, 2.0f, -2.0f, -1.0f, 1.0f};
  struct P {
    float repeat, freq, presence;
    std::vector<float> want;
  };
  const std::vector<P> cases = {
      {1.0f, 0.0f, 0.0f, {2.0f, 2.0f, -2.0f, -1.0f, 1.0f}},
      {2.0f, 0.0f, 0.0f, {1.0f, 1.0f, -2.0f, -2.0f, 1.0f}},
      {1.0f, 0.5f, 0.0f, {1.5f, 1.0f, -2.0f, -1.5f, 1.0f}},
      {1.0f, 0.0f, 0.25f, {1.75f, 1.75f, -2.0f, -1.25f, 1.0f}},
      {2.0f, 0.5f, 0.25f, {0.25f, -0.25f, -2.0f, -2.75f, 1.0f}},
  };
  for (const auto& p : cases) {
    auto s = make_penalties(64, p.repeat, p.freq, p.presence);
    for (int32_t t : {0, 1, 1, 3}) s->accept(t);
    CandidateList c;
    c.assign(logits);
    s->apply(c);
    for (size_t i = 0; i < logits.size(); ++i)
      EXPECT_FLOAT_EQ(c.items[i].logit, p.want[i]) << "repeat " << p.repeat << " freq " << p.freq << " id " << i;
  }
}

TEST(Penalties, WindowForgetsOldTokens) {
  auto s = make_penalties(2, 2.0f, 0.0f, 0.0f);
  for (int32_t t : {0, 1, 2}) s->accept(t);  // window now {1, 2}
  CandidateList c;
  std::vector<float> l = {4.0f, 4.0f, 4.0f};
  c.assign(l);
  s->apply(c);
  EXPECT_FLOAT_EQ(c.items[0].logit, 4.0f);
  EXPECT_FLOAT_EQ(c.items[1].logit, 2.0f);
  EXPECT_FLOAT_EQ(c.items[2].logit, 2.0f);
  s->reset();
  c.assign(l);
  s->apply(c);
  EXPECT_FLOAT_EQ(c.items[1].logit, 4.0f);
}

TEST(Greedy, PicksMaxFirstOnTies) {
  const std::vector<std::pair<std::vector<float>, int32_t>> cases = {
      {{0.1f, 0.9f, 0.3f}, 1}, {{5.0f, 5.0f, 1.0f}, 0}, {{-3.0f, -2.0f, -2.0f}, 1}, {{7.0f}, 0}};
  for (const auto& [l, want] : cases) {
    SamplerChain chain;
    chain.add(make_greedy());
    CandidateList c;
    EXPECT_EQ(chain.sample(l, c), want);
  }
}

TEST(Dist, SameSeedSameTokensAndFrequenciesFollowProbabilities) {
  const std::vector<float> l = logits_of_probs({0.1f, 0.2f, 0.3f, 0.4f});
  auto a = make_dist(42), b = make_dist(42), other = make_dist(43);
  std::map<int32_t, int> counts;
  int same_as_other = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    CandidateList ca, cb, co;
    ca.assign(l);
    cb.assign(l);
    co.assign(l);
    a->apply(ca);
    b->apply(cb);
    other->apply(co);
    const int32_t ta = ca.items[ca.selected].id, tb = cb.items[cb.selected].id;
    ASSERT_EQ(ta, tb) << "draw " << i;
    same_as_other += (ta == co.items[co.selected].id);
    ++counts[ta];
  }
  EXPECT_LT(same_as_other, n * 0.5);  // a different seed is a different stream (expected ~0.3)
  // 4-sigma bounds for a binomial with n = 20000.
  const double probs[] = {0.1, 0.2, 0.3, 0.4};
  for (int id = 0; id < 4; ++id) {
    const double sd = std::sqrt(n * probs[id] * (1 - probs[id]));
    EXPECT_NEAR(counts[id], n * probs[id], 4 * sd) << "id " << id;
  }
}

TEST(Dist, CloneCopiesStateResetReseeds) {
  const std::vector<float> l = logits_of_probs({0.25f, 0.25f, 0.25f, 0.25f});
  auto a = make_dist(7);
  auto draw = [&](SamplerStage& s) {
    CandidateList c;
    c.assign(l);
    s.apply(c);
    return c.items[c.selected].id;
  };
  std::vector<int32_t> first;
  for (int i = 0; i < 16; ++i) first.push_back(draw(*a));
  auto b = a->clone();
  for (int i = 0; i < 16; ++i) EXPECT_EQ(draw(*a), draw(*b)) << i;
  a->reset();
  for (int i = 0; i < 16; ++i) EXPECT_EQ(draw(*a), first[i]) << i;
}

TEST(Chain, SeededChainIsDeterministicAndGreedyAtTempZero) {
  std::vector<float> l(50);
  for (size_t i = 0; i < l.size(); ++i) l[i] = std::sin(static_cast<float>(i) * 1.7f) * 3.0f;
  SamplingParams p;
  p.seed = 1234;
  p.repeat_penalty = 1.1f;
  auto c1 = make_sampler_chain(p), c2 = make_sampler_chain(p);
  EXPECT_EQ(c1->size(), 6u);  // penalties, top-k, top-p, min-p, temperature, dist
  EXPECT_EQ(logit_stage_index(p), 1u);
  CandidateList a, b;
  for (int i = 0; i < 64; ++i) {
    const int32_t t1 = c1->sample(l, a), t2 = c2->sample(l, b);
    ASSERT_EQ(t1, t2);
    ASSERT_GE(t1, 0);
    c1->accept(t1);
    c2->accept(t2);
  }
  p.temperature = 0;
  auto g = make_sampler_chain(p);
  EXPECT_EQ(g->size(), 2u);  // penalties, greedy
  size_t argmax = 0;
  for (size_t i = 1; i < l.size(); ++i)
    if (l[i] > l[argmax]) argmax = i;
  EXPECT_EQ(g->sample(l, a), static_cast<int32_t>(argmax));
}

TEST(Chain, AcceptReachesEveryStage) {
  // A penalties stage inside a chain must see accepted tokens: after accepting the argmax
  // with a huge repeat penalty, greedy moves to the runner-up.
  SamplerChain chain;
  chain.add(make_penalties(8, 100.0f, 0.0f, 0.0f));
  chain.add(make_greedy());
  std::vector<float> l = {1.0f, 3.0f, 2.0f};
  CandidateList c;
  EXPECT_EQ(chain.sample(l, c), 1);
  chain.accept(1);
  EXPECT_EQ(chain.sample(l, c), 2);
  auto copy = chain.clone();
  EXPECT_EQ(static_cast<SamplerChain&>(*copy).sample(l, c), 2);
  chain.reset();
  EXPECT_EQ(chain.sample(l, c), 1);
}

}  // namespace
}  // namespace plumb
