// fit_answer_prompt: passages shortened, then dropped, until the prompt fits.
#include <gtest/gtest.h>

#include "rag/rag.h"

namespace plumb {
namespace {

index::SearchHit hit(const std::string& path, size_t chars, char fill) {
  index::SearchHit h;
  h.path = path;
  h.line_start = 1;
  h.text = std::string(chars, fill);
  return h;
}

size_t chars(const std::string& s) { return s.size(); }

TEST(FitAnswerPrompt, EverythingFitsUnchanged) {
  const std::vector<index::SearchHit> hits = {hit("a.txt", 100, 'a'), hit("b.txt", 100, 'b')};
  size_t used = 0;
  auto p = rag::fit_answer_prompt("why?", hits, 100000, chars, &used);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(used, 2u);
  EXPECT_EQ(*p, index::build_answer_prompt("why?", hits));
}

TEST(FitAnswerPrompt, ShortensBeforeDropping) {
  const std::vector<index::SearchHit> hits = {hit("a.txt", 1400, 'a'), hit("b.txt", 1400, 'b')};
  const size_t full = index::build_answer_prompt("why?", hits).size();
  size_t used = 0;
  auto p = rag::fit_answer_prompt("why?", hits, full - 1000, chars, &used);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(used, 2u);  // both passages, each cut to 750 characters
  EXPECT_LE(p->size(), full - 1000);
  EXPECT_NE(p->find(std::string(750, 'a') + " …"), std::string::npos);
  EXPECT_EQ(p->find(std::string(751, 'a')), std::string::npos);
  EXPECT_NE(p->find("[2] (b.txt, line 1)"), std::string::npos);
}

TEST(FitAnswerPrompt, DropsLowestRankedWhenShortIsNotEnough) {
  const std::vector<index::SearchHit> hits = {hit("a.txt", 1400, 'a'), hit("b.txt", 1400, 'b'),
                                              hit("c.txt", 1400, 'c')};
  const size_t one_short = index::build_answer_prompt("why?", {hit("a.txt", 120, 'a')}).size() + 2;  // + " …"
  size_t used = 0;
  auto p = rag::fit_answer_prompt("why?", hits, one_short + 50, chars, &used);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(used, 1u);
  EXPECT_NE(p->find("[1] (a.txt, line 1)"), std::string::npos);
  EXPECT_EQ(p->find("b.txt"), std::string::npos);
}

TEST(FitAnswerPrompt, ImpossibleBudgetIsAnError) {
  size_t used = 7;
  auto p = rag::fit_answer_prompt("why?", {hit("a.txt", 500, 'a')}, 50, chars, &used);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(used, 7u);
}

TEST(FitAnswerPrompt, CutsOnCharacterBoundaries) {
  index::SearchHit h = hit("u.txt", 0, ' ');
  for (int i = 0; i < 1000; ++i) h.text += "é";  // 2 bytes each
  const size_t full = index::build_answer_prompt("q", {h}).size();
  auto p = rag::fit_answer_prompt("q", {h}, full - 600, chars, nullptr);
  ASSERT_TRUE(p.ok());
  // No broken UTF-8: every 0xC3 lead byte is followed by its continuation byte.
  for (size_t i = 0; i < p->size(); ++i)
    if (static_cast<unsigned char>((*p)[i]) == 0xC3) {
      ASSERT_LT(i + 1, p->size());
      EXPECT_EQ(static_cast<unsigned char>((*p)[i + 1]), 0xA9);
    }
}

}  // namespace
}  // namespace plumb
