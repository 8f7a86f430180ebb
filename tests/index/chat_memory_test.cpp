#include <gtest/gtest.h>

#include "plumb/doc_index.h"
#include "support/test_support.h"

namespace plumb::index {
namespace {

TEST(ChatMemory, StoresTurnsAndRecallsRelevantOnesAcrossReopen) {
  plumb::test::TempDir dir;
  const std::string path = dir.file("memory.db");
  int64_t id_dog = 0;
  {
    auto m = ChatMemory::open(path);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    ASSERT_TRUE((*m)->add_turn("s1", "user", "My dog is called Biscuit and loves the beach.").ok());
    auto id = (*m)->add_turn("s1", "assistant", "Biscuit sounds like a happy dog!");
    ASSERT_TRUE(id.ok());
    id_dog = *id;
    ASSERT_TRUE((*m)->add_turn("s1", "user", "I work as a structural engineer in Lyon.").ok());
    ASSERT_TRUE((*m)->add_turn("s2", "user", "What should I cook tonight?").ok());
  }
  auto m = ChatMemory::open(path);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*(*m)->count(), 4);
  auto r = (*m)->recall("what is my dog's name?", 2);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  for (const auto& t : *r) EXPECT_NE(t.text.find("Biscuit"), std::string::npos);
  r = (*m)->recall("where do I work as an engineer", 3);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].text, "I work as a structural engineer in Lyon.");
  EXPECT_EQ((*r)[0].role, "user");
  EXPECT_GT((*r)[0].score, 0);
  // before_id hides the current exchange.
  r = (*m)->recall("dog Biscuit", 5, id_dog);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].role, "user");
  auto recent = (*m)->recent("s1", 2);
  ASSERT_TRUE(recent.ok());
  ASSERT_EQ(recent->size(), 2u);
  EXPECT_EQ((*recent)[0].text, "Biscuit sounds like a happy dog!");
  EXPECT_EQ((*recent)[1].text, "I work as a structural engineer in Lyon.");
  EXPECT_TRUE((*m)->recall("\"(*", 3).ok());
}

}  // namespace
}  // namespace plumb::index
