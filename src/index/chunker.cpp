#include "index/chunker.h"

#include <algorithm>

namespace plumb::index {
namespace {

struct Word {
  size_t begin, end;  // byte offsets in the section text
};

std::vector<Word> split_words(const std::string& t) {
  std::vector<Word> words;
  size_t i = 0;
  while (i < t.size()) {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\n' || t[i] == '\t' || t[i] == '\r')) ++i;
    if (i >= t.size()) break;
    size_t b = i;
    while (i < t.size() && !(t[i] == ' ' || t[i] == '\n' || t[i] == '\t' || t[i] == '\r')) ++i;
    words.push_back({b, i});
  }
  return words;
}

// Windows over one long section.
void split_section(const Section& s, const std::vector<Word>& words, const ChunkingOptions& o,
                   std::vector<ChunkData>* out) {
  const size_t n = o.chunk_tokens;
  const size_t step = n - o.overlap_tokens;
  // Newline count before each byte offset lets a verbatim window know its lines.
  std::vector<int> nl_before;
  if (s.verbatim) {
    nl_before.resize(s.text.size() + 1);
    int c = 0;
    for (size_t i = 0; i < s.text.size(); ++i) {
      nl_before[i] = c;
      if (s.text[i] == '\n') ++c;
    }
    nl_before[s.text.size()] = c;
  }
  for (size_t start = 0; start < words.size(); start += step) {
    const size_t end = std::min(words.size(), start + n);
    ChunkData c;
    const size_t b = words[start].begin, e = words[end - 1].end;
    c.text = s.text.substr(b, e - b);
    c.heading = s.heading;
    c.page = s.page;
    if (s.verbatim) {
      c.byte_start = s.byte_start + static_cast<int64_t>(b);
      c.byte_end = s.byte_start + static_cast<int64_t>(e);
      c.line_start = s.line_start + nl_before[b];
      c.line_end = s.line_start + nl_before[e];
    } else {
      c.byte_start = s.byte_start;
      c.byte_end = s.byte_end;
      c.line_start = s.line_start;
      c.line_end = s.line_end;
    }
    out->push_back(std::move(c));
    if (end == words.size()) break;
  }
}

}  // namespace

std::vector<ChunkData> chunk_sections(const std::vector<Section>& sections, const ChunkingOptions& options) {
  std::vector<ChunkData> out;
  ChunkData cur;
  size_t cur_words = 0;
  bool open = false;
  auto flush = [&] {
    if (open) out.push_back(std::move(cur));
    cur = ChunkData{};
    cur_words = 0;
    open = false;
  };
  for (const Section& s : sections) {
    const std::vector<Word> words = split_words(s.text);
    if (words.empty()) continue;
    if (words.size() > static_cast<size_t>(options.chunk_tokens)) {
      flush();
      split_section(s, words, options, &out);
      continue;
    }
    const bool compatible = open && cur.page == s.page && cur.heading == s.heading &&
                            cur_words + words.size() <= static_cast<size_t>(options.chunk_tokens);
    if (!compatible) {
      flush();
      cur.heading = s.heading;
      cur.page = s.page;
      cur.line_start = s.line_start;
      cur.byte_start = s.byte_start;
      open = true;
    } else {
      cur.text += "\n\n";
    }
    cur.text += s.text;
    cur_words += words.size();
    if (s.line_end > 0) cur.line_end = s.line_end;
    if (cur.line_start == 0) cur.line_start = s.line_start;
    if (s.byte_end >= 0) cur.byte_end = s.byte_end;
    if (cur.byte_start < 0) cur.byte_start = s.byte_start;
  }
  flush();
  return out;
}

}  // namespace plumb::index
