#include <gtest/gtest.h>

#include "index/chunker.h"

namespace plumb::index {
namespace {

std::string words(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += (s.empty() ? "" : " ") + ("w" + std::to_string(i));
  return s;
}

TEST(Chunker, MergesSmallSectionsWithTheSameHeadingAndPage) {
  std::vector<Section> s(4);
  s[0].text = "a b c"; s[0].line_start = 1; s[0].line_end = 1; s[0].byte_start = 0; s[0].byte_end = 5;
  s[1].text = "d e";   s[1].line_start = 3; s[1].line_end = 3; s[1].byte_start = 7; s[1].byte_end = 10;
  s[2].text = "f";     s[2].heading = "H"; s[2].line_start = 5; s[2].line_end = 5;
  s[3].text = "g h i j k l m n"; s[3].heading = "H"; s[3].line_start = 6; s[3].line_end = 6;
  auto c = chunk_sections(s, ChunkingOptions{.chunk_tokens = 8, .overlap_tokens = 2});
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].text, "a b c\n\nd e");
  EXPECT_EQ(c[0].line_start, 1);
  EXPECT_EQ(c[0].line_end, 3);
  EXPECT_EQ(c[0].byte_end, 10);
  EXPECT_EQ(c[1].text, "f");  // "f" + 8 words would exceed 8
  EXPECT_EQ(c[1].heading, "H");
  EXPECT_EQ(c[2].text, "g h i j k l m n");
}

TEST(Chunker, LongSectionsBecomeOverlappingWindowsWithExactPositions) {
  Section s;
  // 25 words, 5 per line.
  for (int line = 0; line < 5; ++line) s.text += words(line * 5, line * 5 + 5) + (line < 4 ? "\n" : "");
  s.verbatim = true;
  s.line_start = 10;
  s.byte_start = 100;
  s.byte_end = 100 + static_cast<int64_t>(s.text.size());
  auto c = chunk_sections({s}, ChunkingOptions{.chunk_tokens = 10, .overlap_tokens = 3});
  // Windows start at words 0, 7, 14, 21.
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].text.substr(0, 2), "w0");
  EXPECT_EQ(c[1].text.substr(0, 2), "w7");
  EXPECT_EQ(c[2].text.substr(0, 3), "w14");
  EXPECT_EQ(c[3].text.substr(0, 3), "w21");
  EXPECT_EQ(c[3].text.substr(c[3].text.size() - 3), "w24");
  EXPECT_EQ(c[0].line_start, 10);
  EXPECT_EQ(c[0].line_end, 11);  // w9 is on the second line
  EXPECT_EQ(c[1].line_start, 11);
  EXPECT_EQ(c[3].line_end, 14);
  for (const auto& ch : c) EXPECT_EQ(s.text.substr(ch.byte_start - 100, ch.byte_end - ch.byte_start), ch.text);
}

TEST(Chunker, ZeroOverlapCoversEveryWordOnce) {
  Section s;
  s.text = words(0, 100);
  auto c = chunk_sections({s}, ChunkingOptions{.chunk_tokens = 30, .overlap_tokens = 0});
  ASSERT_EQ(c.size(), 4u);
  int total = 0;
  for (const auto& ch : c) total += count_words(ch.text);
  EXPECT_EQ(total, 100);
}

}  // namespace
}  // namespace plumb::index
