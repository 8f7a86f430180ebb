// Black-box tests of `plumb detect` against the library's own verdicts.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>
#include <sstream>

#include "plumb/generate.h"
#include "plumb/model.h"
#include "plumb/watermark.h"
#include "support/test_support.h"

namespace plumb {
namespace {

using nlohmann::json;

// 120 ids, each from its predecessor's lefthash green list (key 99, V 5000): strongly marked.
std::vector<int32_t> marked_ids() {
  WatermarkConfig c;
  c.scheme = WatermarkScheme::kLeftHash;
  c.key = 99;
  const Watermark wm = *Watermark::create(c, 5000);
  std::vector<int32_t> ids = {11};
  std::set<std::pair<int32_t, int32_t>> used;
  while (ids.size() < 120) {
    for (int32_t cand : wm.green_list(std::vector<int32_t>{ids.back()}))
      if (used.insert({ids.back(), cand}).second) {
        ids.push_back(cand);
        break;
      }
  }
  return ids;
}

std::string join(const std::vector<int32_t>& ids, const char* sep) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? sep : "") + std::to_string(ids[i]);
  return s;
}

const char* kArgs = "detect --ids --wm-vocab-size 5000 --wm-key 99 --wm-scheme lefthash ";

TEST(DetectCli, IdsJsonMatchesLibrary) {
  const auto ids = marked_ids();
  const auto r = test::run_plumb(std::string(kArgs) + "--json --exit-code -", join(ids, " "));
  ASSERT_EQ(r.exit_code, 10) << r.err;
  const json j = json::parse(r.out);
  WatermarkConfig c;
  c.scheme = WatermarkScheme::kLeftHash;
  c.key = 99;
  Detector det = *Detector::create(c, 5000);
  const auto want = det.detect(ids);
  EXPECT_EQ(j["num_scored"].get<int64_t>(), want.num_scored);
  EXPECT_EQ(j["num_green"].get<int64_t>(), 119);
  EXPECT_NEAR(j["z"].get<double>(), want.z, 1e-9);
  EXPECT_TRUE(j["detected"].get<bool>());
  ASSERT_EQ(j["tokens"].size(), ids.size());
  EXPECT_TRUE(j["tokens"][0]["green"].is_null());
  EXPECT_TRUE(j["tokens"][1]["green"].get<bool>());
}

TEST(DetectCli, WrongKeyFindsNothingAndExitsZero) {
  const auto r = test::run_plumb("detect --ids --wm-vocab-size 5000 --wm-key 100 --wm-scheme lefthash --exit-code -",
                                 join(marked_ids(), ","));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no watermark detected"), std::string::npos) << r.out;
}

TEST(DetectCli, JsonlBatchKeepsOrderAndReportsBadLines) {
  const auto ids = marked_ids();
  std::string in;
  for (int i = 0; i < 40; ++i) {
    if (i == 7) in += "{broken\n";
    in += "{\"id\":" + std::to_string(i) + ",\"ids\":[" + join(i % 2 ? ids : std::vector<int32_t>(ids.rbegin(), ids.rend()), ",") + "]}\n";
  }
  const auto r = test::run_plumb(std::string(kArgs) + "--jsonl --field ids -t 3 -", in);
  EXPECT_EQ(r.exit_code, 1);  // one line failed
  std::istringstream lines(r.out);
  std::string line;
  int n = 0, errors = 0;
  while (std::getline(lines, line)) {
    const json j = json::parse(line);
    ++n;
    if (j.contains("error")) {
      ++errors;
      EXPECT_EQ(j["line"].get<int>(), 8);
      continue;
    }
    const int id = j["id"].get<int>();
    EXPECT_EQ(j["detected"].get<bool>(), id % 2 == 1) << line;  // reversed text loses the mark
  }
  EXPECT_EQ(n, 41);
  EXPECT_EQ(errors, 1);
}

TEST(DetectCli, UsageErrors) {
  EXPECT_EQ(test::run_plumb("detect --ids --wm-key 1 -", "1 2 3").exit_code, 2);  // no vocab size
  EXPECT_EQ(test::run_plumb("detect --wm-key 1 -", "text").exit_code, 2);         // no tokenizer
  EXPECT_EQ(test::run_plumb(std::string(kArgs) + "--wm-scheme nope -", "1 2").exit_code, 2);
  EXPECT_EQ(test::run_plumb(std::string(kArgs) + "/nonexistent/file.txt").exit_code, 3);
  const auto bad = test::run_plumb(std::string(kArgs) + "-", "1 2 x3");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("x3"), std::string::npos) << bad.err;
  const auto short_text = test::run_plumb(std::string(kArgs) + "-", "7");
  EXPECT_EQ(short_text.exit_code, 0);
  EXPECT_NE(short_text.out.find("not enough tokens"), std::string::npos) << short_text.out;
}

TEST(DetectCli, HelpTeachesExamplesAndNormalization) {
  const auto r = test::run_plumb("detect --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Examples:"), std::string::npos);
  EXPECT_NE(r.out.find("--normalize"), std::string::npos);
  EXPECT_NE(r.out.find("changes the tokens"), std::string::npos);
}

TEST(DetectCli, TextThroughRealTokenizer) {
  PLUMB_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-llama-spm.gguf");
  const auto r = test::run_plumb("detect --tokenizer " + vocab + " --wm-key 5 --json -",
                                 "The quick brown fox jumps over the lazy dog near the river bank.");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_TRUE(j["scored"].get<bool>());
  EXPECT_EQ(j["vocab_size"].get<int>(), 32000);
  EXPECT_EQ(j["tokens"][0]["text"].get<std::string>(), " The");
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

// selfhash on a text of few distinct ids: seeds repeat across distinct n-grams, so the default
// (seed) rule and the reference's n-gram rule differ; both are reported.
TEST(DetectCli, DedupeDefaultIsSeedAndReferenceFiguresAreAlwaysThere) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 300; ++i) ids.push_back(static_cast<int32_t>((i * 7 + i / 13) % 9));
  const std::string args = "detect --ids --wm-vocab-size 5000 --wm-key 12345 --wm-scheme selfhash --json ";
  WatermarkConfig c;
  c.scheme = WatermarkScheme::kSelfHash;
  c.key = 12345;
  DetectOptions ngram;
  ngram.dedupe_by_seed = false;
  const auto want_seed = Detector::create(c, 5000)->detect(ids);
  const auto want_ngram = Detector::create(c, 5000, ngram)->detect(ids);
  ASSERT_NE(want_seed.num_scored, want_ngram.num_scored);  // the case this test is about

  const auto def = test::run_plumb(args + "-", join(ids, " "));
  ASSERT_EQ(def.exit_code, 0) << def.err;
  const json jd = json::parse(def.out);
  EXPECT_EQ(jd["dedupe"].get<std::string>(), "seed");
  EXPECT_EQ(jd["num_scored"].get<int64_t>(), want_seed.num_scored);
  EXPECT_EQ(jd["num_green"].get<int64_t>(), want_seed.num_green);
  EXPECT_EQ(jd["reference"]["scored"].get<int64_t>(), want_ngram.num_scored);
  EXPECT_EQ(jd["reference"]["green"].get<int64_t>(), want_ngram.num_green);
  EXPECT_NEAR(jd["reference"]["z"].get<double>(), want_ngram.z, 1e-9);
  EXPECT_NEAR(jd["reference"]["p"].get<double>(), want_ngram.p_value, 1e-12);

  const auto ng = test::run_plumb(args + "--dedupe ngram -", join(ids, " "));
  ASSERT_EQ(ng.exit_code, 0) << ng.err;
  const json jn = json::parse(ng.out);
  EXPECT_EQ(jn["num_scored"].get<int64_t>(), want_ngram.num_scored);
  EXPECT_NEAR(jn["z"].get<double>(), want_ngram.z, 1e-9);
  EXPECT_EQ(jn["reference"]["z"], jn["z"]);

  // Human-readable: a reference line only when the figures differ.
  const std::string plain = "detect --ids --wm-vocab-size 5000 --wm-key 12345 --wm-scheme selfhash ";
  const auto h = test::run_plumb(plain + "-", join(ids, " "));
  EXPECT_NE(h.out.find("reference scoring"), std::string::npos) << h.out;
  EXPECT_EQ(test::run_plumb(plain + "--dedupe ngram -", join(ids, " ")).out.find("reference scoring"),
            std::string::npos);
}

TEST(DetectCli, HelpExplainsTheDedupeDefaultAndCacheSize) {
  const auto r = test::run_plumb("detect --help");
  EXPECT_NE(r.out.find("seed (default)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the candidate itself"), std::string::npos);
  EXPECT_NE(r.out.find("--dedupe ngram"), std::string::npos);
  EXPECT_NE(r.out.find("--wm-cache-mb"), std::string::npos);
  EXPECT_EQ(test::run_plumb(std::string(kArgs) + "--wm-cache-mb 0 -", "1 2 3").exit_code, 2);
  const auto small = test::run_plumb(std::string(kArgs) + "--wm-cache-mb 0.05 --json -", join(marked_ids(), " "));
  ASSERT_EQ(small.exit_code, 0) << small.err;
  EXPECT_EQ(json::parse(small.out)["num_green"].get<int64_t>(), 119);  // a tiny cache changes nothing
}

TEST(DetectCli, MinEntropyNeedsTheModel) {
  const auto r = test::run_plumb("detect --ids --wm-vocab-size 512 --wm-key 1 --min-entropy 0.5 -", "1 2 3 4 5 6");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--min-entropy needs the model itself (-m MODEL.gguf)"), std::string::npos) << r.err;
}

// Selective detection through the CLI equals the library's next_token_entropies + exclusion
// mask, single text and JSONL on two workers alike.
TEST(DetectCli, MinEntropySkipsTokensTheModelWasSureOf) {
  PLUMB_REQUIRE_SHARED(model_path, "models/stories260K.gguf");
  const auto gen = test::run_plumb("run -m " + model_path +
                                   " --prompt-ids 1 -n 120 --top-k 0 --top-p 1 --min-p 0 --seed 3 --watermark 777 --json");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  std::vector<int32_t> ids = {1};  // BOS, as generated
  const json generated = json::parse(gen.out);
  for (const auto& id : generated["ids"]) ids.push_back(id.get<int32_t>());
  const std::string args = "detect -m " + model_path + " --ids --wm-key 777 --min-entropy 0.5 ";
  const auto r = test::run_plumb(args + "--json -", join(ids, " "));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);

  auto model = Model::load(model_path);
  ASSERT_TRUE(model.ok());
  auto ctx = Context::create(**model, {.n_ctx = 256, .n_threads = 1});
  ASSERT_TRUE(ctx.ok());
  auto h = next_token_entropies(**ctx, std::span<const int32_t>(ids).subspan(1), 1);
  ASSERT_TRUE(h.ok());
  std::vector<uint8_t> exclude(ids.size(), 0);
  for (size_t i = 0; i < h->size(); ++i) exclude[i + 1] = (*h)[i] < 0.5f;
  WatermarkConfig c;
  c.key = 777;
  DetectOptions o;
  o.bos_id = 1;
  Detector det = *Detector::create(c, 512, o);
  const auto want = det.detect(ids, exclude);
  ASSERT_TRUE(want.scored) << want.message;
  EXPECT_GT(want.num_excluded, 0);
  EXPECT_EQ(j["num_excluded"].get<int64_t>(), want.num_excluded);
  EXPECT_EQ(j["num_scored"].get<int64_t>(), want.num_scored);
  EXPECT_EQ(j["num_green"].get<int64_t>(), want.num_green);
  EXPECT_NEAR(j["z"].get<double>(), want.z, 1e-9);
  int64_t flagged = 0;
  for (const auto& t : j["tokens"]) flagged += t.value("excluded", false);
  EXPECT_EQ(flagged, want.num_excluded);
  // Selection raises z on marked text here: the plain count is lower.
  EXPECT_GT(want.z, det.detect(ids).z);

  const std::string line = "{\"ids\": [" + join(ids, ", ") + "]}\n";
  const auto batch = test::run_plumb(args + "--jsonl --field ids -t 2 -", line + line + line);
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  std::istringstream lines(batch.out);
  std::string l;
  int n = 0;
  while (std::getline(lines, l)) {
    EXPECT_NEAR(json::parse(l)["z"].get<double>(), want.z, 1e-9);
    ++n;
  }
  EXPECT_EQ(n, 3);
}

}  // namespace
}  // namespace plumb
