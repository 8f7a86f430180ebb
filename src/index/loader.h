// Document loaders: bytes in, structured text sections out.  One file per format
// (loader_<kind>.cpp).  Loaders never abort on bad input: malformed data becomes a Status
// (the file is reported and skipped) or a warning (the file is repaired, e.g. invalid UTF-8).
//
// Every loader is a pure function of its input bytes, so the fuzzers call them directly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/status.h"

namespace plumb::index {

// One structural unit of a document: a paragraph, a Markdown section body, a PDF page, a CSV
// row.  The chunker merges small sections and splits long ones.
struct Section {
  std::string text;
  std::string heading;   // "Install > From source" for nested Markdown/HTML headings
  int page = 0;          // 1-based PDF page; 0 otherwise
  int line_start = 0;    // 1-based, inclusive; 0 when unknown
  int line_end = 0;
  int64_t byte_start = -1;  // [byte_start, byte_end) in the (repaired) source; -1 when unknown
  int64_t byte_end = -1;
  // True when `text` is exactly the source bytes [byte_start, byte_end) starting at line_start,
  // so positions of sub-windows can be computed precisely.
  bool verbatim = false;
};

struct LoadedDocument {
  std::string kind;   // text, markdown, html, pdf, csv, image
  std::string title;  // "" when the format has none (the caller uses the file name)
  int pages = 0;
  std::vector<Section> sections;
  std::vector<std::string> warnings;  // repairs made, e.g. "invalid UTF-8 ... replaced"
};

// The document kind for a file: by extension first, then by magic bytes of `head` (the first
// few KiB).  Returns "" for unknown/binary files.
std::string detect_kind(std::string_view path, std::string_view head);

// Dispatches on `kind`; `name` is used in error messages.
Result<LoadedDocument> load_document(std::string_view kind, std::string_view data, std::string_view name);

Result<LoadedDocument> load_text(std::string_view data, std::string_view name);
Result<LoadedDocument> load_markdown(std::string_view data, std::string_view name);
Result<LoadedDocument> load_html(std::string_view data, std::string_view name);
Result<LoadedDocument> load_pdf(std::string_view data, std::string_view name);
Result<LoadedDocument> load_csv(std::string_view data, std::string_view name);
Result<LoadedDocument> load_image(std::string_view data, std::string_view name);

// ---- shared helpers (text_util.cpp) ----

// Returns valid UTF-8.  Input that is valid is returned as is (a UTF-8 BOM is dropped).  Input
// with no valid multi-byte sequence at all is decoded as Latin-1; otherwise each invalid byte
// becomes U+FFFD.  `*warning` is set to a sentence describing the repair, or cleared.
std::string repair_utf8(std::string_view data, std::string* warning);
// Collapses runs of spaces/tabs, trims each line, drops control characters (keeps '\n').
std::string normalize_whitespace(std::string_view text);
// Number of whitespace-separated words.
int count_words(std::string_view text);
// True when `head` looks binary (NUL bytes).
bool looks_binary(std::string_view head);

}  // namespace plumb::index
