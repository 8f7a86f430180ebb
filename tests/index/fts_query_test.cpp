#include <gtest/gtest.h>

#include "plumb/doc_index.h"
#include "support/test_support.h"

namespace plumb::index {
namespace {

TEST(FtsQuery, QuotesTermsDropsStopWordsAddsStems) {
  EXPECT_EQ(fts_query_from_text("How are tensors checked?"),
            "\"tensors\" OR \"tensor\"* OR \"checked\" OR \"check\"*");
  EXPECT_EQ(fts_query_from_text("to be or not to be"), "\"to\" OR \"be\" OR \"or\" OR \"not\"");
  EXPECT_EQ(fts_query_from_text("  ?!  "), "");
  EXPECT_EQ(fts_query_from_text("Café NEAR/2 x"), "\"café\" OR \"near\" OR \"2\" OR \"x\"");
}

TEST(FtsQuery, HostileQueriesNeverBreakFts) {
  plumb::test::TempDir dir;
  auto idx = DocIndex::open(dir.file("q.db"));
  ASSERT_TRUE(idx.ok());
  plumb::test::write_file(dir.file("a.txt"), "alpha beta gamma \"quoted\" AND OR NOT NEAR column:value\n");
  ASSERT_TRUE((*idx)->add({dir.file("a.txt")}, AddOptions{}).ok());
  const char* queries[] = {"\"", "\"\"\"", "AND", "OR OR", "NOT alpha", "alpha*", "*", "(beta", "beta)", "NEAR(a b)",
                           "column:value", "^alpha", "a - b", "{alpha beta}", "alpha + -", "\xFF\xFE", "",
                           "title:alpha", "'; DROP TABLE chunks; --"};
  for (const char* q : queries) {
    auto r = (*idx)->query(q, QueryOptions{});
    EXPECT_TRUE(r.ok()) << q << ": " << r.status().to_string();
  }
  auto r = (*idx)->query("NOT alpha", QueryOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 1u);  // NOT is a word here, not an operator
}

}  // namespace
}  // namespace plumb::index

namespace plumb::index {
namespace {

// Past 1000 chunks, terms in more than half of the chunks are left out of the MATCH (their
// BM25 weight is ~0) unless that leaves too few matches.
TEST(FtsQuery, CommonTermPruningKeepsResults) {
  plumb::test::TempDir dir;
  std::string text;
  for (int i = 0; i < 1200; ++i)
    text += "common filler number" + std::to_string(i) + (i == 777 ? " zebra" : "") + " more end\n\n";
  plumb::test::write_file(dir.file("big.txt"), text);
  auto idx = DocIndex::open(dir.file("big.db"));
  ASSERT_TRUE(idx.ok());
  AddOptions o;
  o.chunking = ChunkingOptions{.chunk_tokens = 8, .overlap_tokens = 0};
  auto r = (*idx)->add({dir.file("big.txt")}, o);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->chunks_written, 1200);
  auto hits = (*idx)->query("common zebra", QueryOptions{.k = 1});
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_NE(hits->front().text.find("number777 zebra"), std::string::npos);
  // Only common terms: the rarest one is kept.
  hits = (*idx)->query("common filler", QueryOptions{.k = 3});
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 3u);
  // The rare term matches nothing: fall back to the full query.
  hits = (*idx)->query("common unicorn", QueryOptions{.k = 2});
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 2u);
}

}  // namespace
}  // namespace plumb::index

namespace plumb::index {
namespace {

TEST(IndexConfig, PorterStemmingIsChosenAtCreation) {
  plumb::test::TempDir dir;
  plumb::test::write_file(dir.file("a.txt"), "The engines were running hot.\n");
  for (bool porter : {false, true}) {
    auto idx = DocIndex::open(dir.file(porter ? "p.db" : "n.db"), IndexConfig{.porter_stemming = porter});
    ASSERT_TRUE(idx.ok());
    ASSERT_TRUE((*idx)->add({dir.file("a.txt")}, AddOptions{}).ok());
    auto st = (*idx)->stats();
    EXPECT_EQ(st->tokenizer, porter ? "porter unicode61 remove_diacritics 2" : "unicode61 remove_diacritics 2");
    // "runs" -> porter "run" matches "running" -> "run"; without porter the light prefix
    // "run"* matches too, but "engine" (no suffix to strip) only matches "engines" with porter.
    auto hits = (*idx)->query("engine", QueryOptions{});
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ(hits->size(), porter ? 1u : 0u) << porter;
  }
  // Reopening with another setting does not change an existing database.
  auto again = DocIndex::open(dir.file("n.db"), IndexConfig{.porter_stemming = true});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->stats()->tokenizer, "unicode61 remove_diacritics 2");
}

TEST(IndexProgress, ReportsEveryFileInOrder) {
  plumb::test::TempDir dir;
  for (int i = 0; i < 5; ++i) plumb::test::write_file(dir.file("f" + std::to_string(i) + ".txt"), "text " + std::to_string(i));
  auto idx = DocIndex::open(dir.file("x.db"));
  ASSERT_TRUE(idx.ok());
  std::vector<int64_t> done;
  int64_t total = 0, bytes = 0;
  AddOptions o;
  o.on_progress = [&](const AddProgress& p) {
    done.push_back(p.files_done);
    total = p.files_total;
    bytes = p.bytes_read;
  };
  ASSERT_TRUE((*idx)->add({dir.path().string()}, o).ok());
  EXPECT_EQ(done, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(total, 5);
  EXPECT_EQ(bytes, 5 * 6);
}

}  // namespace
}  // namespace plumb::index
