// Chat memory prompt: earlier sessions' turns recalled into a new message.
#include <gtest/gtest.h>

#include "rag/rag.h"
#include "support/test_support.h"

namespace plumb {
namespace {

index::MemoryTurn turn(const std::string& session, const std::string& role, const std::string& text) {
  index::MemoryTurn t;
  t.session = session;
  t.role = role;
  t.text = text;
  return t;
}

TEST(MessageWithMemory, NothingRecalledLeavesMessage) {
  EXPECT_EQ(rag::message_with_memory("hello", {}, "s1"), "hello");
  // Turns of the live session are already in the history.
  EXPECT_EQ(rag::message_with_memory("hello", {turn("s1", "user", "hi")}, "s1"), "hello");
}

TEST(MessageWithMemory, QuotesEarlierTurnsBeforeTheMessage) {
  const auto m = rag::message_with_memory(
      "what is my cat called?", {turn("s0", "user", "my cat is\nnamed Whiskers"), turn("s1", "user", "now")}, "s1");
  EXPECT_EQ(m,
            "(From earlier conversations, possibly relevant:\n- user: my cat is named Whiskers\n)\n\n"
            "what is my cat called?");
}

TEST(MessageWithMemory, BoundedByMaxChars) {
  std::vector<index::MemoryTurn> many;
  for (int i = 0; i < 50; ++i) many.push_back(turn("old", "assistant", std::string(100, 'x')));
  const auto m = rag::message_with_memory("q", many, "new", 500);
  EXPECT_LE(m.size(), 500u + 80u);
  EXPECT_NE(m.find("- assistant: xxx"), std::string::npos);
}

TEST(MessageWithMemory, LongTurnCutOnCharacterBoundary) {
  std::string long_turn;
  for (int i = 0; i < 1000; ++i) long_turn += "é";  // 2 bytes each
  const auto m = rag::message_with_memory("q", {turn("old", "user", long_turn)}, "new", 301);
  EXPECT_LE(m.size(), 301u + 80u);
  const size_t a = m.find("- user: ");
  ASSERT_NE(a, std::string::npos);
  const size_t b = m.find(" …\n", a);
  ASSERT_NE(b, std::string::npos);
  EXPECT_EQ((b - a - 8) % 2, 0u);  // whole characters only
}

// With the real ChatMemory: a turn stored in one session is recalled in a later one.
TEST(MessageWithMemory, RecallAcrossSessions) {
  test::TempDir dir;
  auto mem = index::ChatMemory::open(dir.file("mem.db"));
  ASSERT_TRUE(mem.ok()) << mem.status().message();
  ASSERT_TRUE((*mem)->add_turn("s0", "user", "my favourite colour is teal").ok());
  ASSERT_TRUE((*mem)->add_turn("s0", "assistant", "noted").ok());
  ASSERT_TRUE((*mem)->add_turn("s0", "user", "the train leaves at nine").ok());
  auto rec = (*mem)->recall("which colour do I like", 3);
  ASSERT_TRUE(rec.ok());
  const auto m = rag::message_with_memory("which colour do I like", *rec, "s1");
  EXPECT_NE(m.find("- user: my favourite colour is teal"), std::string::npos) << m;
  EXPECT_EQ(m.find("train"), std::string::npos) << m;
}

}  // namespace
}  // namespace plumb
