// CSV (RFC 4180): the first record is the header; every later record becomes one section
// "column: value" per line, with the record's line and byte range.  Quoted fields may hold
// delimiters, doubled quotes and newlines.  The delimiter is whichever of , ; TAB is most
// frequent in the header line.
#include <algorithm>

#include "index/loader.h"

namespace plumb::index {
namespace {

constexpr size_t kMaxFields = 4096;

char detect_delimiter(std::string_view text) {
  size_t end = text.find('\n');
  std::string_view first = text.substr(0, end == std::string_view::npos ? text.size() : end);
  size_t comma = 0, semi = 0, tab = 0;
  bool quoted = false;
  for (char c : first) {
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    comma += c == ',';
    semi += c == ';';
    tab += c == '\t';
  }
  if (tab > comma && tab >= semi) return '\t';
  if (semi > comma) return ';';
  return ',';
}

struct Record {
  std::vector<std::string> fields;
  int line_start = 0, line_end = 0;
  size_t byte_start = 0, byte_end = 0;
};

// Reads one record starting at *pos; advances *pos and *line.  Returns false at end of input.
bool next_record(std::string_view t, char delim, size_t* pos, int* line, Record* rec, bool* unterminated) {
  if (*pos >= t.size()) return false;
  rec->fields.clear();
  rec->line_start = *line;
  rec->byte_start = *pos;
  std::string field;
  bool quoted = false, was_quoted = false;
  size_t i = *pos;
  for (; i < t.size(); ++i) {
    const char c = t[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < t.size() && t[i + 1] == '"') { field += '"'; ++i; }
        else quoted = false;
      } else {
        if (c == '\n') ++*line;
        field += c;
      }
      continue;
    }
    if (c == '"' && !was_quoted && field.find_first_not_of(" \t") == std::string::npos) {
      field.clear();
      quoted = was_quoted = true;
    } else if (c == delim) {
      if (rec->fields.size() < kMaxFields) rec->fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n') {
      break;
    } else if (c != '\r') {
      field += c;  // text after a closing quote is kept, as most readers do
    }
  }
  if (quoted) *unterminated = true;
  if (rec->fields.size() < kMaxFields) rec->fields.push_back(std::move(field));
  rec->line_end = *line;
  rec->byte_end = i;
  *pos = i < t.size() ? i + 1 : i;
  ++*line;
  return true;
}

std::string trim(std::string s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return {};
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

}  // namespace

Result<LoadedDocument> load_csv(std::string_view data, std::string_view name) {
  LoadedDocument doc;
  doc.kind = "csv";
  std::string warning;
  const std::string text = repair_utf8(data, &warning);
  if (!warning.empty()) doc.warnings.push_back(warning);
  const char delim = detect_delimiter(text);
  size_t pos = 0;
  int line = 1;
  bool unterminated = false;
  Record rec;
  std::vector<std::string> header;
  // Skip leading blank lines to find the header.
  while (next_record(text, delim, &pos, &line, &rec, &unterminated)) {
    if (rec.fields.size() == 1 && trim(rec.fields[0]).empty()) continue;
    for (auto& f : rec.fields) header.push_back(normalize_whitespace(trim(f)));
    break;
  }
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i].empty()) header[i] = "column " + std::to_string(i + 1);
  while (next_record(text, delim, &pos, &line, &rec, &unterminated)) {
    std::string body;
    for (size_t i = 0; i < rec.fields.size(); ++i) {
      std::string v = normalize_whitespace(trim(rec.fields[i]));
      if (v.empty()) continue;
      for (char& c : v)
        if (c == '\n') c = ' ';
      if (!body.empty()) body += '\n';
      body += i < header.size() ? header[i] : "column " + std::to_string(i + 1);
      body += ": ";
      body += v;
    }
    if (body.empty()) continue;
    Section s;
    s.text = std::move(body);
    s.line_start = rec.line_start;
    s.line_end = rec.line_end;
    s.byte_start = static_cast<int64_t>(rec.byte_start);
    s.byte_end = static_cast<int64_t>(rec.byte_end);
    doc.sections.push_back(std::move(s));
  }
  if (unterminated) doc.warnings.push_back("a quoted field is not closed before the end of the file");
  if (header.empty()) doc.warnings.push_back("empty CSV (no header)");
  return doc;
}

}  // namespace plumb::index
