// The engine side of rag: Context::hidden_at, LocalEmbedder, LocalGenerator.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "plumb/gguf.h"
#include "plumb/model.h"
#include "plumb/tokenizer.h"
#include "rag/rag.h"
#include "synth_fixture.h"

namespace plumb {
namespace {

using test::TempDir;

double norm_of(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return std::sqrt(s);
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d += double(a[i]) * b[i];
  return d / (norm_of(a) * norm_of(b));
}

// With a tied output, logits = token_embd . hidden: checks hidden_at() against the logits the
// engine computes on its own path, with the embedding matrix read straight from the file.
TEST(ContextHidden, TiedLogitsAreEmbeddingDotHidden) {
  TempDir dir;
  auto model = Model::load(test::write_tiny_model(dir, "tied.gguf", /*tied=*/true));
  ASSERT_TRUE(model.ok()) << model.status().message();
  ContextParams cp;
  cp.n_ctx = 64;
  cp.n_threads = 1;
  cp.embeddings = true;
  auto ctx = Context::create(**model, cp);
  ASSERT_TRUE(ctx.ok());
  const std::vector<int32_t> ids = {1, 40, 41, 300, 7};
  ASSERT_TRUE((*ctx)->eval(ids).ok());
  const int64_t E = (*model)->hparams().n_embd;
  const auto* te = (*model)->file().find_tensor("token_embd.weight");
  ASSERT_NE(te, nullptr);
  ASSERT_EQ(te->type, TensorType::kF32);
  const auto bytes = (*model)->file().tensor_data(*te);
  const auto h = (*ctx)->hidden_at(ids.size() - 1);
  ASSERT_EQ(static_cast<int64_t>(h.size()), E);
  const auto logits = (*ctx)->logits();
  for (int v : {0, 5, 77, 319}) {
    double dot = 0;
    for (int64_t i = 0; i < E; ++i) {
      float w;
      std::memcpy(&w, bytes.data() + (static_cast<size_t>(v) * E + i) * sizeof(float), sizeof(float));
      dot += double(w) * h[i];
    }
    EXPECT_NEAR(logits[v], dot, 1e-3 * (1 + std::fabs(dot))) << "vocab id " << v;
  }
}

// Evaluating in one batch or token by token gives the same hidden states (causal model).
TEST(ContextHidden, BatchAndIncrementalAgree) {
  TempDir dir;
  auto model = Model::load(test::write_tiny_model(dir));
  ASSERT_TRUE(model.ok());
  ContextParams cp;
  cp.n_ctx = 64;
  cp.n_threads = 1;
  cp.embeddings = true;
  auto a = Context::create(**model, cp);
  auto b = Context::create(**model, cp);
  const std::vector<int32_t> ids = {1, 12, 99, 250};
  ASSERT_TRUE((*a)->eval(ids).ok());
  for (size_t t = 0; t < ids.size(); ++t) {
    ASSERT_TRUE((*b)->eval(std::span<const int32_t>(&ids[t], 1)).ok());
    const auto x = (*a)->hidden_at(t);
    const auto y = (*b)->hidden_at(0);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], 1e-4) << "token " << t << " dim " << i;
  }
}

TEST(LocalEmbedder, UnitNormDeterministicOfModelWidth) {
  TempDir dir;
  const std::string path = test::write_tiny_model(dir);
  auto e = rag::LocalEmbedder::load(path, {});
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ((*e)->dimension(), 64);
  EXPECT_EQ((*e)->model_name(), "gguf:" + std::string("plumb-synth-tiny") + ":64:mean");
  const std::vector<std::string> texts = {"the refund policy", "shipping takes five days", ""};
  auto v1 = (*e)->embed(texts);
  ASSERT_TRUE(v1.ok()) << v1.status().message();
  ASSERT_EQ(v1->size(), 3u);
  for (const auto& v : *v1) {
    ASSERT_EQ(v.size(), 64u);
    EXPECT_NEAR(norm_of(v), 1.0, 1e-5);
  }
  EXPECT_LT(cosine((*v1)[0], (*v1)[1]), 0.9999);
  // Same texts again, and from a second instance: bit-identical.
  auto v2 = (*e)->embed({texts[1], texts[0]});
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ((*v2)[0], (*v1)[1]);
  EXPECT_EQ((*v2)[1], (*v1)[0]);
  auto e2 = rag::LocalEmbedder::load(path, {});
  ASSERT_TRUE(e2.ok());
  EXPECT_EQ((*(*e2)->embed({texts[0]}))[0], (*v1)[0]);
}

// Mean and last-token pooling against the hidden states read from a Context directly.
TEST(LocalEmbedder, PoolingMatchesHiddenStates) {
  TempDir dir;
  const std::string path = test::write_tiny_model(dir);
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok());
  auto tok = Tokenizer::from_gguf((*model)->file());
  ASSERT_TRUE(tok.ok());
  const std::string text = "a cat sat on the mat";
  const auto ids = (*tok)->tokenize(text);
  ASSERT_GE(ids.size(), 3u);
  ContextParams cp;
  cp.n_ctx = 128;
  cp.embeddings = true;
  auto ctx = Context::create(**model, cp);
  ASSERT_TRUE((*ctx)->eval(ids).ok());
  std::vector<double> mean(64, 0.0), last(64, 0.0);
  for (size_t t = 0; t < ids.size(); ++t)
    for (size_t i = 0; i < 64; ++i) mean[i] += (*ctx)->hidden_at(t)[i] / double(ids.size());
  for (size_t i = 0; i < 64; ++i) last[i] = (*ctx)->hidden_at(ids.size() - 1)[i];
  for (auto [pooling, ref] : {std::pair{rag::Pooling::kMean, mean}, std::pair{rag::Pooling::kLast, last}}) {
    rag::EmbedderOptions o;
    o.pooling = pooling;
    auto e = rag::LocalEmbedder::load(path, o);
    ASSERT_TRUE(e.ok());
    auto v = (*e)->embed({text});
    ASSERT_TRUE(v.ok());
    double n = 0;
    for (double x : ref) n += x * x;
    n = std::sqrt(n);
    for (size_t i = 0; i < 64; ++i) EXPECT_NEAR((*v)[0][i], ref[i] / n, 1e-5) << "dim " << i;
  }
}

TEST(LocalEmbedder, MissingFileIsNotFound) {
  auto e = rag::LocalEmbedder::load("/nonexistent/model.gguf", {});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
}

TEST(LocalGenerator, GreedyIsReproducibleAndBudgetHolds) {
  TempDir dir;
  const std::string path = test::write_tiny_model(dir);
  rag::GeneratorOptions o;
  o.n_ctx = 256;
  o.n_predict = 12;
  auto g = rag::LocalGenerator::load(path, o);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_FALSE((*g)->uses_chat_template());  // the synthetic vocabulary has none
  EXPECT_EQ((*g)->prompt_budget(), 256u - 12u);
  auto a = (*g)->generate("Question: what is it?\nAnswer:");
  auto b = (*g)->generate("Question: what is it?\nAnswer:");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  // A prompt past the budget is refused, not truncated silently.
  auto big = (*g)->generate(std::string(2000, 'x'));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kOutOfRange);

  o.chat_template = "chatml";
  auto c = rag::LocalGenerator::load(path, o);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE((*c)->uses_chat_template());
  EXPECT_GT((*c)->prompt_tokens("hi"), (*g)->prompt_tokens("hi"));  // the template's markers add tokens
}

}  // namespace
}  // namespace plumb
