// Black-box tests of `plumb tokenize` against the built binary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace plumb {
namespace {

TEST(TokenizeCli, IdsOnlyJsonStdinAndErrors) {
  PLUMB_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-llama-bpe.gguf");
  auto r = test::run_plumb("tokenize -m '" + vocab + "' --ids-only 'Hello world'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "128000 9906 1917\n");  // BOS from llama-bpe's defaults, then the reference ids

  r = test::run_plumb("tokenize -m '" + vocab + "' --ids-only --no-bos --parse-special '<|eot_id|>'");
  EXPECT_EQ(r.out, "128009\n");

  r = test::run_plumb("tokenize -m '" + vocab + "' --json --stdin --no-bos", "Hello world");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ids"], nlohmann::json::parse("[9906, 1917]"));
  EXPECT_EQ(j["tokens"][1]["piece"], " world");

  r = test::run_plumb("tokenize -m /no/such/file.gguf x");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("/no/such/file.gguf"), std::string::npos);
  r = test::run_plumb("tokenize -m '" + vocab + "'");
  EXPECT_EQ(r.exit_code, 2);
}

TEST(TokenizeCli, HelpHasExamples) {
  auto r = test::run_plumb("tokenize --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Examples:"), std::string::npos);
}

}  // namespace
}  // namespace plumb
