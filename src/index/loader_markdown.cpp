// Markdown: paragraphs like plain text, plus the heading path ("Guide > Install") of each
// paragraph kept as metadata.  ATX ("## x") and setext ("x\n===") headings; lines inside fenced
// code blocks are never headings.  The first level-1 heading is the title.
#include <algorithm>

#include "index/loader.h"

namespace plumb::index {
namespace {

bool is_blank(std::string_view line) {
  for (char c : line)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// Level 1-6 and the heading text for an ATX heading line, or level 0.
int atx_heading(std::string_view line, std::string* text) {
  std::string_view s = line;
  int indent = 0;
  while (!s.empty() && s.front() == ' ' && indent < 4) { s.remove_prefix(1); ++indent; }
  int level = 0;
  while (level < static_cast<int>(s.size()) && s[level] == '#') ++level;
  if (level == 0 || level > 6) return 0;
  if (level < static_cast<int>(s.size()) && s[level] != ' ' && s[level] != '\t' && s[level] != '\r' && s[level] != '\n')
    return 0;
  std::string_view t = trim(s.substr(level));
  while (!t.empty() && t.back() == '#') t.remove_suffix(1);  // closing hashes
  *text = std::string(trim(t));
  return level;
}

bool is_fence(std::string_view line) {
  std::string_view t = trim(line);
  return t.substr(0, 3) == "```" || t.substr(0, 3) == "~~~";
}

// "===" (level 1) or "---" (level 2) underline, or 0.
int setext_level(std::string_view line) {
  std::string_view t = trim(line);
  if (t.empty()) return 0;
  const char c = t.front();
  if (c != '=' && c != '-') return 0;
  for (char x : t)
    if (x != c) return 0;
  return c == '=' ? 1 : 2;
}

}  // namespace

Result<LoadedDocument> load_markdown(std::string_view data, std::string_view name) {
  LoadedDocument doc;
  doc.kind = "markdown";
  std::string warning;
  const std::string text = repair_utf8(data, &warning);
  if (!warning.empty()) doc.warnings.push_back(warning);

  // Split into lines first so a setext underline can turn the previous line into a heading.
  struct Line { size_t begin, end; };
  std::vector<Line> lines;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl + 1;
    lines.push_back({pos, end});
    pos = end;
  }
  auto line_at = [&](size_t i) { return std::string_view(text.data() + lines[i].begin, lines[i].end - lines[i].begin); };

  std::vector<std::string> stack(6);  // current heading per level
  auto heading_path = [&] {
    std::string out;
    for (const auto& h : stack) {
      if (h.empty()) continue;
      if (!out.empty()) out += " > ";
      out += h;
    }
    return out;
  };
  auto set_heading = [&](int level, std::string h) {
    if (level == 1 && doc.title.empty()) doc.title = h;
    stack[level - 1] = std::move(h);
    for (int l = level; l < 6; ++l) stack[l].clear();
  };

  Section cur;
  bool in_para = false, in_fence = false;
  auto flush = [&](size_t end_line_exclusive) {
    if (!in_para) return;
    size_t last = end_line_exclusive - 1;
    cur.byte_end = static_cast<int64_t>(lines[last].end);
    cur.text = text.substr(cur.byte_start, cur.byte_end - cur.byte_start);
    while (!cur.text.empty() && (cur.text.back() == '\n' || cur.text.back() == '\r')) {
      cur.text.pop_back();
      --cur.byte_end;
    }
    cur.line_end = static_cast<int>(last) + 1;
    cur.verbatim = true;
    if (!is_blank(cur.text)) doc.sections.push_back(std::move(cur));
    cur = Section{};
    in_para = false;
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = line_at(i);
    if (is_fence(line)) in_fence = !in_fence;
    std::string htext;
    int level = in_fence ? 0 : atx_heading(line, &htext);
    if (level > 0) {
      flush(i);
      set_heading(level, htext);
      continue;
    }
    // A setext underline right after a one-line paragraph makes that line a heading.
    if (!in_fence && in_para && static_cast<int>(i) == cur.line_start && setext_level(line) > 0) {
      std::string h(trim(line_at(i - 1)));
      in_para = false;
      cur = Section{};
      set_heading(setext_level(line), h);
      continue;
    }
    if (!in_fence && is_blank(line)) {
      flush(i);
      continue;
    }
    if (!in_para) {
      in_para = true;
      cur.byte_start = static_cast<int64_t>(lines[i].begin);
      cur.line_start = static_cast<int>(i) + 1;
      cur.heading = heading_path();
    }
  }
  flush(lines.size());
  return doc;
}

}  // namespace plumb::index
