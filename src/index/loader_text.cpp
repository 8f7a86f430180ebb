// Plain text: one section per paragraph (blocks separated by blank lines), with exact line and
// byte ranges.
#include "index/loader.h"

namespace plumb::index {
namespace {

bool is_blank(std::string_view line) {
  for (char c : line)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v') return false;
  return true;
}

}  // namespace

Result<LoadedDocument> load_text(std::string_view data, std::string_view name) {
  LoadedDocument doc;
  doc.kind = "text";
  std::string warning;
  const std::string text = repair_utf8(data, &warning);
  if (!warning.empty()) doc.warnings.push_back(warning);

  size_t pos = 0;
  int line_no = 0;
  Section cur;
  bool in_para = false;
  auto flush = [&](size_t end) {
    if (!in_para) return;
    cur.byte_end = static_cast<int64_t>(end);
    cur.text = text.substr(cur.byte_start, end - cur.byte_start);
    while (!cur.text.empty() && (cur.text.back() == '\n' || cur.text.back() == '\r')) {
      cur.text.pop_back();
      --cur.byte_end;
    }
    cur.verbatim = true;
    doc.sections.push_back(std::move(cur));
    cur = Section{};
    in_para = false;
  };
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl + 1;
    std::string_view line(text.data() + pos, end - pos);
    ++line_no;
    if (is_blank(line)) {
      flush(pos);
    } else {
      if (!in_para) {
        in_para = true;
        cur.byte_start = static_cast<int64_t>(pos);
        cur.line_start = line_no;
      }
      cur.line_end = line_no;
    }
    pos = end;
  }
  flush(text.size());
  return doc;
}

}  // namespace plumb::index
