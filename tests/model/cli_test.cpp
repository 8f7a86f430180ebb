// Black-box tests of `plumb run`, `plumb chat` and `plumb bench` on a synthetic model.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gguf/synth.h"
#include "support/test_support.h"

namespace plumb {
namespace {

class EngineCli : public ::testing::Test {
 protected:
  void SetUp() override {
    gguf::SynthSpec s;  // tiny llama with a generated SentencePiece vocabulary
    s.seed = 7;
    s.type = TensorType::kQ8_0;
    ASSERT_TRUE(gguf::synth_write(s, model_).ok());
  }
  test::TempDir dir_;
  std::string model_ = dir_.file("tiny.gguf");
};

TEST_F(EngineCli, RunJsonIsSeededAndGreedyIsTempZero) {
  auto a = test::run_plumb("run -m '" + model_ + "' -p 'hello world' -n 12 --seed 5 --json -t 2");
  auto b = test::run_plumb("run -m '" + model_ + "' -p 'hello world' -n 12 --seed 5 --json -t 1");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  auto ja = nlohmann::json::parse(a.out), jb = nlohmann::json::parse(b.out);
  EXPECT_EQ(ja["ids"], jb["ids"]);
  EXPECT_EQ(ja["seed"], 5);
  EXPECT_EQ(ja["ids"].size(), ja["logprobs"].size());
  for (auto& lp : ja["logprobs"]) EXPECT_LE(lp.get<double>(), 0.0);
  EXPECT_GT(ja["timings"]["generate_tok_s"].get<double>(), 0.0);
  // Greedy: each chosen token is the most likely one, so its log-probability is the largest
  // possible; with temp 0 two different seeds give the same ids.
  auto g1 = test::run_plumb("run -m '" + model_ + "' --prompt-ids '1 300 301' -n 8 --temp 0 --seed 1 --json");
  auto g2 = test::run_plumb("run -m '" + model_ + "' --prompt-ids '1 300 301' -n 8 --temp 0 --seed 2 --json");
  ASSERT_EQ(g1.exit_code, 0) << g1.err;
  EXPECT_EQ(nlohmann::json::parse(g1.out)["ids"], nlohmann::json::parse(g2.out)["ids"]);
  EXPECT_EQ(nlohmann::json::parse(g1.out)["prompt_ids"], (std::vector<int>{1, 300, 301}));
}

TEST_F(EngineCli, RunErrors) {
  auto r = test::run_plumb("run -m '" + dir_.file("missing.gguf") + "' -p hi");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("missing.gguf"), std::string::npos) << r.err;
  r = test::run_plumb("run -m '" + model_ + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = test::run_plumb("run -m '" + model_ + "' --prompt-ids '1 x'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("'x' is not a token id"), std::string::npos) << r.err;
  r = test::run_plumb("run -m '" + model_ + "' --prompt-ids '1 2 3 4 5 6 7 8 9 10' -c 8 -n 4");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("context is full"), std::string::npos) << r.err;
  r = test::run_plumb("run -m '" + model_ + "' --prompt-ids '1 2' -c 8 -n 100 --temp 0 --ignore-eos");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("context is full"), std::string::npos) << r.err;
}

TEST_F(EngineCli, ChatNeedsATemplateAndKeepsHistory) {
  auto r = test::run_plumb("chat -m '" + model_ + "' -n 4 --temp 0", "hi\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--chat-template NAME"), std::string::npos) << r.err;
  r = test::run_plumb("chat -m '" + model_ + "' --chat-template chatml -n 4 --temp 0", "hi\nhow are you\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // One timing line per reply.
  size_t replies = 0;
  for (size_t at = r.err.find(" tok/s"); at != std::string::npos; at = r.err.find(" tok/s", at + 1)) ++replies;
  EXPECT_EQ(replies, 4u) << r.err;  // "tok/s" appears twice per timing line
  r = test::run_plumb("chat -m '" + model_ + "' --chat-template nosuch", "hi\n");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(EngineCli, BenchJson) {
  auto r = test::run_plumb("bench -m '" + model_ + "' -p 16 -n 4 -r 2 -t 1 --no-bandwidth --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["pp"]["samples"].size(), 2u);
  EXPECT_GT(j["pp"]["tok_s_mean"].get<double>(), 0.0);
  EXPECT_GT(j["tg"]["tok_s_mean"].get<double>(), 0.0);
  EXPECT_GT(j["bytes_per_token"].get<double>(), 0.0);
  r = test::run_plumb("bench -p 16");
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace plumb
