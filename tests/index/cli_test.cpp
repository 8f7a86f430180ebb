// Black-box tests of `plumb index` against the built binary, including a SIGKILL in the middle
// of `index add` followed by a re-run, compared with an uninterrupted run.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "index/fixtures.h"
#include "support/test_support.h"

namespace plumb::index {
namespace {

namespace fs = std::filesystem;
using plumb::test::run_plumb;
using plumb::test::TempDir;
using plumb::test::write_file;

std::string q(const std::string& s) { return "'" + s + "'"; }

// 40 text files of a few chunks each; file i mentions "topic<i>".
void write_big_corpus(const fs::path& dir) {
  fs::create_directories(dir / "sub");
  for (int i = 0; i < 40; ++i) {
    std::string text;
    for (int p = 0; p < 6; ++p) {
      text += "Paragraph " + std::to_string(p) + " of the file about topic" + std::to_string(i) +
              " and the shared subject of plumbing.";
      for (int w = 0; w < 40; ++w) text += " word" + std::to_string((i * 31 + p * 7 + w) % 97);
      text += "\n\n";
    }
    write_file((dir / (i % 2 ? "sub" : ".") / ("f" + std::to_string(i) + ".txt")).string(), text);
  }
}

TEST(IndexCli, KilledAddLeavesAConsistentDatabaseAndRerunCompletes) {
  TempDir dir;
  const fs::path corpus = dir.path() / "corpus";
  write_big_corpus(corpus);
  const std::string killed_db = dir.file("killed.db"), clean_db = dir.file("clean.db");
  const std::string opts = " --chunk-tokens 30 --overlap 5 --quiet";
  {
    test::ScopedEnv env("PLUMB_TEST_KILL_AFTER_FILES", "17");
    auto r = run_plumb("index add " + q(corpus.string()) + " --db " + q(killed_db) + opts);
    EXPECT_NE(r.exit_code, 0) << "the process should have been killed";
  }
  // Exactly the 17 committed files are there, nothing of the 18th.
  auto list = run_plumb("index list --json --db " + q(killed_db));
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto docs = nlohmann::json::parse(list.out);
  EXPECT_EQ(docs.size(), 17u);

  auto rerun = run_plumb("index add " + q(corpus.string()) + " --db " + q(killed_db) + opts + " --json");
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  auto rep = nlohmann::json::parse(rerun.out);
  EXPECT_EQ(rep["files_unchanged"], 17);
  EXPECT_EQ(rep["files_added"], 23);
  EXPECT_EQ(rep["files_read"], 23);

  auto clean = run_plumb("index add " + q(corpus.string()) + " --db " + q(clean_db) + opts);
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  const std::string a = test::canonical_dump(killed_db), b = test::canonical_dump(clean_db);
  EXPECT_GT(std::count(a.begin(), a.end(), '\n'), 40 + 40 * 6);
  EXPECT_EQ(a, b);
}

TEST(IndexCli, AddQueryAskListStatsRm) {
  TempDir dir;
  const fs::path docs = dir.path() / "docs";
  fs::create_directories(docs);
  write_file((docs / "tensors.md").string(),
             "# Tensors\n\n## Validation\n\nEvery tensor is checked against the file size: its data must end "
             "before the end of the file, and its shape must match its type's block size.\n\n"
             "## Layout\n\nTensors are stored row-major.\n");
  write_file((docs / "other.md").string(), "# Cooking\n\nBoil the pasta for nine minutes.\n");
  write_file((docs / "skip.xyz").string(), "unknown");
  const std::string db = " --db " + q(dir.file("docs.db"));
  auto add = run_plumb("index add " + q(docs.string()) + db);
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_NE(add.out.find("2 added"), std::string::npos) << add.out;
  EXPECT_NE(add.err.find("unknown file type; skipped"), std::string::npos) << add.err;

  auto query = run_plumb("index query \"how are tensors checked\" -k 2 --json" + db);
  ASSERT_EQ(query.exit_code, 0) << query.err;
  auto j = nlohmann::json::parse(query.out);
  ASSERT_GE(j["results"].size(), 1u);
  EXPECT_NE(j["results"][0]["path"].get<std::string>().find("tensors.md"), std::string::npos);
  EXPECT_EQ(j["results"][0]["heading"], "Tensors > Validation");
  EXPECT_EQ(j["results"][0]["line_start"], 5);

  auto text = run_plumb("index query \"how are tensors checked\"" + db);
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("1. "), std::string::npos);

  auto ask = run_plumb("index ask \"How is a tensor checked?\" -k 2" + db);
  ASSERT_EQ(ask.exit_code, 0) << ask.err;
  EXPECT_NE(ask.out.find("[1] Every tensor is checked against the file size"), std::string::npos) << ask.out;
  EXPECT_NE(ask.out.find("Sources:\n[1] "), std::string::npos) << ask.out;
  EXPECT_NE(ask.out.find("tensors.md, line 5 (Tensors > Validation)"), std::string::npos) << ask.out;

  // -m runs a local model (tests/rag has the working case); a missing file is "not found".
  auto local = run_plumb("index ask \"x\" -m no-such-model.gguf" + db);
  EXPECT_EQ(local.exit_code, 3);
  EXPECT_NE(local.err.find("no-such-model.gguf"), std::string::npos) << local.err;

  auto stats = run_plumb("index stats --json" + db);
  ASSERT_EQ(stats.exit_code, 0);
  auto s = nlohmann::json::parse(stats.out);
  EXPECT_EQ(s["documents"], 2);
  EXPECT_EQ(s["documents_by_kind"]["markdown"], 2);

  auto rm = run_plumb("index rm " + q((docs / "other.md").string()) + db);
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  rm = run_plumb("index rm " + q((docs / "other.md").string()) + db);
  EXPECT_EQ(rm.exit_code, 3);
  auto list = run_plumb("index list --json" + db);
  EXPECT_EQ(nlohmann::json::parse(list.out).size(), 1u);

  auto missing = run_plumb("index add /no/such/dir" + db);
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find("no such file or directory"), std::string::npos);

  auto no_db = run_plumb("index query x --db " + q(dir.file("missing.db")));
  EXPECT_EQ(no_db.exit_code, 3);
  EXPECT_NE(no_db.err.find("no such index database"), std::string::npos) << no_db.err;
  EXPECT_FALSE(fs::exists(dir.file("missing.db")));

  write_file(dir.file("notdb.db"), std::string(200, 'x'));
  auto notdb = run_plumb("index list --db " + q(dir.file("notdb.db")));
  EXPECT_EQ(notdb.exit_code, 1);
  EXPECT_NE(notdb.err.find("notdb.db: not an SQLite database"), std::string::npos) << notdb.err;

  auto help = run_plumb("index add --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Examples:"), std::string::npos);
}

}  // namespace
}  // namespace plumb::index
