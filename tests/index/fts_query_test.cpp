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
