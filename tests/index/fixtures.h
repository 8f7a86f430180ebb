// Test fixtures the index tests build themselves: a minimal multi-page PDF written as raw PDF
// syntax, a PNG with rendered text (leptonica's built-in bitmap font), and a canonical dump of
// an index database for comparing two runs.
#pragma once

#include <string>
#include <vector>

namespace plumb::index::test {

// A valid PDF: one page per element of `pages`, each line drawn in Helvetica 12pt.
std::string make_pdf(const std::vector<std::vector<std::string>>& pages, const std::string& title = "");

// Renders `lines` in black on white, scaled up so that tesseract reads them cleanly, and
// writes a PNG to `path`.  Returns false on failure.
bool write_text_png(const std::string& path, const std::vector<std::string>& lines);

// documents + chunks (no ids, no timestamps of indexing), one line per row, sorted; plus the
// FTS row count, so two databases with the same content dump identically.
std::string canonical_dump(const std::string& db_path);

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value);
  ~ScopedEnv();

 private:
  std::string name_;
};

}  // namespace plumb::index::test
