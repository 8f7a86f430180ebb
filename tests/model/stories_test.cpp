// The real trained model ../shared/models/stories260K.gguf against its reference outputs
// (../shared/testdata/stories260K/README.md).
#include <gtest/gtest.h>

#include <sstream>

#include "plumb/generate.h"
#include "plumb/model.h"
#include "plumb/sampler.h"
#include "plumb/tokenizer.h"
#include "support/test_support.h"

namespace plumb {
namespace {

std::vector<TokenId> read_ids(const std::string& path) {
  std::istringstream in(test::read_file(path));
  std::vector<TokenId> ids;
  for (TokenId id; in >> id;) ids.push_back(id);
  return ids;
}

TEST(Stories260K, GreedyFromBosMatchesReference) {
  PLUMB_REQUIRE_SHARED(model_path, "models/stories260K.gguf");
  PLUMB_REQUIRE_SHARED(ref_path, "testdata/stories260K/greedy_bos.txt");
  const auto want = read_ids(ref_path);
  ASSERT_FALSE(want.empty());
  auto model = Model::load(model_path);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const auto& hp = (*model)->hparams();
  EXPECT_EQ(hp.n_embd, 64);
  EXPECT_EQ(hp.n_layer, 5);
  EXPECT_EQ(hp.n_head, 8);
  EXPECT_EQ(hp.n_head_kv, 4);
  EXPECT_EQ(hp.n_ff, 172);
  EXPECT_EQ(hp.n_vocab, 512);
  EXPECT_TRUE(hp.tied_output);
  for (int threads : {1, 2}) {
    auto ctx = Context::create(**model, {.n_ctx = 512, .n_batch = 512, .n_threads = threads});
    ASSERT_TRUE(ctx.ok());
    SamplerChain greedy;
    greedy.add(make_greedy());
    GenerateOptions go;
    go.n_predict = static_cast<int32_t>(want.size());
    go.stop_at_eog = false;
    const std::vector<TokenId> bos = {1};
    auto r = generate(**ctx, nullptr, greedy, bos, go);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->tokens, want) << "threads " << threads;
  }
}

TEST(Stories260K, RunCommandPrintsReferenceText) {
  PLUMB_REQUIRE_SHARED(model_path, "models/stories260K.gguf");
  PLUMB_REQUIRE_SHARED(ref_path, "testdata/stories260K/greedy_once_upon_a_time.txt");
  const std::string want = test::read_file(ref_path);
  auto r = test::run_plumb("run -m '" + model_path + "' -p 'Once upon a time' -n 100 --temp 0 -t 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, want);
  // The one-line timing summary goes to stderr.
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
}

TEST(Stories260K, RunJsonHasIdsLogprobsTimings) {
  PLUMB_REQUIRE_SHARED(model_path, "models/stories260K.gguf");
  PLUMB_REQUIRE_SHARED(ref_path, "testdata/stories260K/greedy_bos.txt");
  const auto want = read_ids(ref_path);
  auto r = test::run_plumb("run -m '" + model_path + "' --prompt-ids 1 -n 10 --temp 0 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (size_t i = 0; i < 10; ++i)
    EXPECT_NE(r.out.find(std::to_string(want[i])), std::string::npos);
  EXPECT_NE(r.out.find("\"logprobs\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"timings\""), std::string::npos) << r.out;
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

TEST(Stories260K, StopStringsEndGenerationAndAreNeverStreamed) {
  PLUMB_REQUIRE_SHARED(model_path, "models/stories260K.gguf");
  auto model = Model::load(model_path);
  ASSERT_TRUE(model.ok());
  auto tok = Tokenizer::from_gguf((*model)->file());
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  const auto prompt = (*tok)->tokenize("Once upon a time");
  // The greedy continuation is ", there was a little girl named Lily. ..."; "little g" spans
  // two tokens, so the matcher must hold back "little" until it knows.
  for (const std::string stop : {"little g", "Lily", "was"}) {
    auto ctx = Context::create(**model, {.n_ctx = 256, .n_batch = 64, .n_threads = 1});
    SamplerChain greedy;
    greedy.add(make_greedy());
    GenerateOptions go;
    go.n_predict = 50;
    go.stop = {stop};
    std::string streamed;
    auto r = generate(**ctx, tok->get(), greedy, prompt, go, [&](std::string_view s) {
      streamed += s;
      return true;
    });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->stop_reason, StopReason::kStopString) << stop;
    const std::string full = ", there was a little girl named Lily.";
    EXPECT_EQ(r->text, full.substr(0, full.find(stop))) << stop;
    EXPECT_EQ(streamed, r->text) << stop;
  }
}

}  // namespace
}  // namespace plumb
