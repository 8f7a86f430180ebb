// Black-box tests of `plumb wm-eval` on stories260K (../shared) and on a synthetic model.
#include <gtest/gtest.h>

#include <sstream>

#include "gguf/synth.h"
#include "support/test_support.h"

namespace plumb {
namespace {

std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::istringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ',')) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

void check_eval(const std::string& model, const std::string& scheme) {
  test::TempDir dir;
  test::write_file(dir.file("prompts.txt"), "Once upon a time\n\nThe little dog\nLily went to the park\n");
  const auto r = test::run_plumb("wm-eval -m " + model + " --prompts " + dir.file("prompts.txt") +
                                 " -n 60 --deltas 2,10 --gammas 0.25 --substitute 0.2 --dilute 0.5 -t 1 --csv" +
                                 " --wm-scheme " + scheme + " --wm-key 31337");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = parse_csv(r.out);
  ASSERT_EQ(rows.size(), 1u + 1 + 2 * 3) << r.out;  // header, unmarked, (marked, substitute, dilute) x 2 deltas
  EXPECT_EQ(rows[0][0], "gamma");
  EXPECT_EQ(rows[1][2], "unwatermarked");
  EXPECT_EQ(rows[1][3], "3");  // three prompts (the blank line is skipped)
  const double z_plain = std::stod(rows[1][4]);
  EXPECT_EQ(rows[5][1], "10");
  EXPECT_EQ(rows[5][2], "watermarked");
  const double z_marked = std::stod(rows[5][4]);
  EXPECT_GT(z_marked, z_plain + 3) << r.out;
  EXPECT_LT(z_plain, 4) << r.out;
  EXPECT_FALSE(rows[5][8].empty());  // perplexity of marked text
  EXPECT_TRUE(rows[6].size() < 9 || rows[6][8].empty());  // none for attacked text
}

TEST(WmEvalCli, Stories260K) {
  PLUMB_REQUIRE_SHARED(model, "models/stories260K.gguf");
  check_eval(model, "selfhash");
}

// --min-entropy adds the selective columns; on stories260K (low entropy) selection raises
// the marked z and leaves the unmarked one below the threshold.
TEST(WmEvalCli, SelectiveColumns) {
  PLUMB_REQUIRE_SHARED(model, "models/stories260K.gguf");
  test::TempDir dir;
  test::write_file(dir.file("prompts.txt"), "Once upon a time\nThe little dog\nLily went to the park\nTom had a ball\n");
  const auto r = test::run_plumb("wm-eval -m " + model + " --prompts " + dir.file("prompts.txt") +
                                 " -n 200 --deltas 2 --gammas 0.25 --substitute 0.1 --dilute 0.5 -t 1 --csv"
                                 " --wm-key 31337 --min-entropy 0.5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = parse_csv(r.out);
  ASSERT_EQ(rows.size(), 5u) << r.out;
  ASSERT_EQ(rows[0].size(), 11u);
  EXPECT_EQ(rows[0][9], "selective_mean_z");
  EXPECT_EQ(rows[0][10], "selective_rate_z_gt_4");
  EXPECT_LT(std::stod(rows[1][9]), 4) << r.out;                        // unmarked
  EXPECT_GT(std::stod(rows[2][9]), std::stod(rows[2][4])) << r.out;    // marked: selection raises z
  EXPECT_EQ(rows[2][10], "1.0000") << r.out;
}

TEST(WmEvalCli, SyntheticModel) {
  test::TempDir dir;
  auto spec = gguf::synth_preset("tiny");
  ASSERT_TRUE(spec.ok());
  spec->n_vocab = 600;
  ASSERT_TRUE(gguf::synth_write(*spec, dir.file("m.gguf")).ok());
  check_eval(dir.file("m.gguf"), "lefthash");
}

TEST(WmEvalCli, Errors) {
  EXPECT_EQ(test::run_plumb("wm-eval -m /nonexistent.gguf --prompts /nonexistent.txt").exit_code, 3);
  const auto help = test::run_plumb("wm-eval --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Examples:"), std::string::npos);
}

}  // namespace
}  // namespace plumb
