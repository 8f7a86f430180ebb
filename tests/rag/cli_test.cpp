// Black-box: `plumb index ask -m`, `index add/query --embed-model FILE.gguf`, `chat --memory`.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "plumb/doc_index.h"
#include "support/test_support.h"
#include "synth_fixture.h"

namespace plumb {
namespace {

using test::run_plumb;
using test::TempDir;

std::string q(const std::string& s) { return "'" + s + "'"; }

void write_corpus(const TempDir& dir) {
  std::filesystem::create_directories(dir.path() / "docs");
  test::write_file(dir.file("docs/refund.txt"),
                   "Refunds.\n\nThe refund policy allows returns within 30 days of purchase with a receipt.\n");
  test::write_file(dir.file("docs/shipping.md"),
                   "# Shipping\n\nShipping takes five business days to most countries.\n");
  std::string long_text = "# Warranty\n\n";
  for (int i = 0; i < 60; ++i) long_text += "The warranty covers parts and labour for two years in sentence " + std::to_string(i) + ". ";
  test::write_file(dir.file("docs/warranty.md"), long_text + "\n");
}

TEST(RagCli, AskWithLocalModelCitesSources) {
  TempDir dir;
  const std::string model = test::write_tiny_model(dir);
  write_corpus(dir);
  const std::string db = " --db " + q(dir.file("t.db"));
  ASSERT_EQ(run_plumb("index add " + q(dir.file("docs")) + db).exit_code, 0);

  auto ask = run_plumb("index ask \"what is the refund policy\" -k 2 -n 8 -m " + q(model) + db);
  ASSERT_EQ(ask.exit_code, 0) << ask.err;
  const size_t src = ask.out.find("\nSources:\n[1] ");
  ASSERT_NE(src, std::string::npos) << ask.out;
  EXPECT_NE(ask.out.find("refund.txt", src), std::string::npos) << ask.out;

  auto js = run_plumb("index ask \"what is the refund policy\" -k 2 -n 8 --json -m " + q(model) + db);
  ASSERT_EQ(js.exit_code, 0) << js.err;
  auto j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j["extractive"], false);
  ASSERT_GE(j["sources"].size(), 1u);
  EXPECT_NE(j["sources"][0]["path"].get<std::string>().find("refund.txt"), std::string::npos);
  const std::string prompt = j["prompt"];
  EXPECT_NE(prompt.find("[1] ("), std::string::npos);
  EXPECT_NE(prompt.find("returns within 30 days"), std::string::npos);
  EXPECT_NE(prompt.find("Question: what is the refund policy\nAnswer:"), std::string::npos);
  // Greedy by default: the same answer twice.
  EXPECT_EQ(nlohmann::json::parse(run_plumb("index ask \"what is the refund policy\" -k 2 -n 8 --json -m " +
                                            q(model) + db).out)["answer"],
            j["answer"]);

  // A small context: the long passage is shortened so the prompt still fits.
  auto small = run_plumb("index ask \"how long is the warranty\" -k 3 -n 16 -c 512 --json -m " + q(model) + db);
  ASSERT_EQ(small.exit_code, 0) << small.err;
  auto s = nlohmann::json::parse(small.out);
  EXPECT_NE(s["prompt"].get<std::string>().find(" …"), std::string::npos);
  auto tiny = run_plumb("index ask \"how long is the warranty\" -n 16 -c 48 -m " + q(model) + db);
  EXPECT_EQ(tiny.exit_code, 1);
  EXPECT_NE(tiny.err.find("raise -c"), std::string::npos) << tiny.err;

  // Without -m: still extractive.
  auto ex = run_plumb("index ask \"what is the refund policy\" --json" + db);
  ASSERT_EQ(ex.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(ex.out)["extractive"], true);
  EXPECT_EQ(run_plumb("index ask x -m " + q(model) + " --api-base http://h/v1 --api-model m" + db).exit_code, 2);
}

TEST(RagCli, StoriesModelAnswers) {
  PLUMB_REQUIRE_SHARED(model, "models/stories260K.gguf");
  TempDir dir;
  write_corpus(dir);
  const std::string db = " --db " + q(dir.file("t.db"));
  ASSERT_EQ(run_plumb("index add " + q(dir.file("docs")) + db).exit_code, 0);
  auto ask = run_plumb("index ask \"what is the refund policy\" -k 2 -n 24 -m " + q(model) + db);
  ASSERT_EQ(ask.exit_code, 0) << ask.err;
  const size_t src = ask.out.find("\nSources:\n[1] ");
  ASSERT_NE(src, std::string::npos) << ask.out;
  EXPECT_GT(src, 0u);  // some generated text before the sources
  EXPECT_NE(ask.out.find("refund.txt", src), std::string::npos) << ask.out;
}

TEST(RagCli, LocalEmbeddingsHybridQuery) {
  TempDir dir;
  const std::string model = test::write_tiny_model(dir);
  write_corpus(dir);
  const std::string db = " --db " + q(dir.file("v.db"));
  auto add = run_plumb("index add " + q(dir.file("docs")) + " --embed-model " + q(model) + db);
  ASSERT_EQ(add.exit_code, 0) << add.err;
  auto st = nlohmann::json::parse(run_plumb("index stats --json" + db).out);
  EXPECT_EQ(st["embedded_chunks"], st["chunks"]);
  EXPECT_GE(st["chunks"].get<int>(), 3);
  EXPECT_EQ(st["embed_dim"], 64);
  EXPECT_EQ(st["embed_model"], "gguf:plumb-synth-tiny:64:mean");

  auto query = run_plumb("index query \"refund policy\" -k 3 --json --embed-model " + q(model) + db);
  ASSERT_EQ(query.exit_code, 0) << query.err;
  auto r = nlohmann::json::parse(query.out)["results"];
  ASSERT_EQ(r.size(), 3u);  // hybrid: every chunk has a vector rank, only one matches BM25
  EXPECT_NE(r[0]["path"].get<std::string>().find("refund.txt"), std::string::npos);
  EXPECT_EQ(r[0]["bm25_rank"], 1);
  for (const auto& h : r) {
    EXPECT_GE(h["vector_rank"].get<int>(), 1);
    EXPECT_LE(h["cosine"].get<double>(), 1.0 + 1e-6);
  }

  // A missing embedding model is "not found" and leaves no database behind.
  auto bad = run_plumb("index add " + q(dir.file("docs")) + " --embed-model " + q(dir.file("none.gguf")) +
                       " --db " + q(dir.file("w.db")));
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_FALSE(std::filesystem::exists(dir.file("w.db")));
  // A name that is not a model file needs a server.
  EXPECT_EQ(run_plumb("index query x --embed-model text-embedding-3-small" + db).exit_code, 2);
}

TEST(RagCli, ChatMemoryRecallsEarlierSession) {
  TempDir dir;
  const std::string model = test::write_tiny_model(dir);
  const std::string args = "chat -m " + q(model) + " --chat-template chatml --temp 0 -n 4 -c 512 --memory " +
                           q(dir.file("mem.db"));
  auto first = run_plumb(args, "my cat is named Whiskers\nthe train leaves at nine\n");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.err.find("--- prompt ---"), std::string::npos);

  auto second = run_plumb(args + " --show-prompt", "what is the name of my cat?\n");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const size_t p = second.err.find("--- prompt ---\n<|im_start|>user\n(From earlier conversations");
  ASSERT_NE(p, std::string::npos) << second.err;
  const size_t end = second.err.find("--- end of prompt ---", p);
  const std::string prompt = second.err.substr(p, end - p);
  EXPECT_NE(prompt.find("- user: my cat is named Whiskers\n"), std::string::npos) << prompt;
  EXPECT_EQ(prompt.find("train"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("what is the name of my cat?<|im_end|>"), std::string::npos) << prompt;

  auto mem = index::ChatMemory::open(dir.file("mem.db"));
  ASSERT_TRUE(mem.ok());
  EXPECT_EQ(*(*mem)->count(), 6);  // 3 user turns, 3 replies
  auto recent = (*mem)->recall("train", 5);
  ASSERT_TRUE(recent.ok());
  ASSERT_GE(recent->size(), 1u);
  EXPECT_EQ((*recent)[0].text, "the train leaves at nine");
  EXPECT_EQ((*recent)[0].role, "user");
}

}  // namespace
}  // namespace plumb
