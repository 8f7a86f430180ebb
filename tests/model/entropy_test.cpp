// next_token_entropies / logits_entropy: the model's uncertainty before each token, checked
// against a fresh context per prefix and a naive entropy; past the context, against a fresh
// context of the window the shifted cache holds (1 layer, so that is exact).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "model/one_layer_model.h"
#include "plumb/generate.h"
#include "plumb/model.h"
#include "support/test_support.h"

namespace plumb {
namespace {

double naive_entropy(std::span<const float> logits) {
  double mx = -INFINITY;
  for (float l : logits) mx = std::max(mx, double{l});
  double z = 0;
  for (float l : logits) z += std::exp(double{l} - mx);
  double h = 0;
  for (float l : logits) {
    const double p = std::exp(double{l} - mx) / z;
    if (p > 0) h -= p * std::log(p);
  }
  return h;
}

TEST(LogitsEntropy, KnownDistributions) {
  const std::vector<float> uniform(512, 3.0f);
  EXPECT_NEAR(logits_entropy(uniform), std::log(512.0), 1e-12);
  std::vector<float> sure(100, -50.0f);
  sure[7] = 50.0f;
  EXPECT_NEAR(logits_entropy(sure), 0.0, 1e-12);
  std::vector<float> two(10, -1e30f);
  two[2] = two[5] = 4.0f;
  EXPECT_NEAR(logits_entropy(two), std::log(2.0), 1e-12);
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0, 4);
  std::vector<float> random(1000);
  for (auto& x : random) x = d(rng);
  EXPECT_NEAR(logits_entropy(random), naive_entropy(random), 1e-9);
}

class Entropies : public test::OneLayerModelTest {
 protected:
  std::vector<TokenId> ids(size_t n, uint32_t seed) const {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> d(0, shape_.n_vocab - 1);
    std::vector<TokenId> out(n);
    for (auto& id : out) id = d(rng);
    return out;
  }
};

TEST_F(Entropies, EachEqualsAFreshContextOfItsPrefix) {
  const auto text = ids(40, 1);
  auto ctx = context(128);
  for (TokenId bos : {TokenId{1}, TokenId{-1}}) {
    auto h = next_token_entropies(*ctx, text, bos);
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    ASSERT_EQ(h->size(), text.size());
    auto fresh = context(128);
    for (size_t i = 0; i < text.size(); ++i) {
      std::vector<TokenId> prefix;
      if (bos >= 0) prefix.push_back(bos);
      prefix.insert(prefix.end(), text.begin(), text.begin() + static_cast<long>(i));
      if (prefix.empty()) {
        EXPECT_EQ((*h)[i], std::numeric_limits<float>::infinity());
        continue;
      }
      fresh->truncate(0);
      ASSERT_TRUE(fresh->eval(prefix).ok());
      EXPECT_NEAR((*h)[i], naive_entropy(fresh->logits()), 1e-5) << "token " << i;
    }
  }
}

// 100 tokens through a 32-token context: the BOS stays, the older half goes when it is full.
TEST_F(Entropies, PastTheContextTheyFollowTheShiftedWindow) {
  const auto text = ids(100, 2);
  const TokenId bos = 1;
  auto ctx = context(32);
  auto h = next_token_entropies(*ctx, text, bos);
  ASSERT_TRUE(h.ok()) << h.status().to_string();
  std::vector<TokenId> window;
  auto fresh = context(32);
  double worst = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const TokenId next_in = i == 0 ? bos : text[i - 1];
    if (window.size() == 32) window.erase(window.begin() + 1, window.begin() + 1 + 31 / 2);
    window.push_back(next_in);
    fresh->truncate(0);
    ASSERT_TRUE(fresh->eval(window).ok());
    worst = std::max(worst, std::abs((*h)[i] - naive_entropy(fresh->logits())));
  }
  EXPECT_LE(worst, 1e-3);
  // The same text again gives the same values: the context is cleared first.
  auto again = next_token_entropies(*ctx, text, bos);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *h);
}

TEST_F(Entropies, BadInputIsAnError) {
  auto ctx = context(32);
  EXPECT_EQ(next_token_entropies(*ctx, std::vector<TokenId>{3, 5, shape_.n_vocab}, 1).status().code(),
            StatusCode::kInvalidArgument);
  auto empty = next_token_entropies(*ctx, std::vector<TokenId>{}, 1);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace plumb
