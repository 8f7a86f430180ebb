#include "index/fixtures.h"

#include <leptonica/allheaders.h>
#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace plumb::index::test {
namespace {

std::string pdf_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '(' || c == ')' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string make_pdf(const std::vector<std::vector<std::string>>& pages, const std::string& title) {
  // Objects: 1 catalog, 2 pages, 3 font, 4 info, then (page, contents) pairs.
  const int n = static_cast<int>(pages.size());
  std::vector<std::string> objs;
  std::string kids;
  for (int i = 0; i < n; ++i) kids += std::to_string(5 + 2 * i) + " 0 R ";
  objs.push_back("<< /Type /Catalog /Pages 2 0 R >>");
  objs.push_back("<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(n) + " >>");
  objs.push_back("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  objs.push_back("<< /Title (" + pdf_escape(title) + ") >>");
  for (int i = 0; i < n; ++i) {
    objs.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                   "/Contents " + std::to_string(6 + 2 * i) + " 0 R >>");
    std::string content = "BT /F1 12 Tf 16 TL 72 720 Td\n";
    for (const auto& line : pages[i]) content += "(" + pdf_escape(line) + ") Tj T*\n";
    content += "ET\n";
    objs.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "endstream");
  }
  std::string out = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objs.size(); ++i) {
    offsets.push_back(out.size());
    out += std::to_string(i + 1) + " 0 obj\n" + objs[i] + "\nendobj\n";
  }
  const size_t xref = out.size();
  out += "xref\n0 " + std::to_string(objs.size() + 1) + "\n0000000000 65535 f \n";
  char buf[32];
  for (size_t off : offsets) {
    std::snprintf(buf, sizeof buf, "%010zu 00000 n \n", off);
    out += buf;
  }
  out += "trailer\n<< /Size " + std::to_string(objs.size() + 1) + " /Root 1 0 R /Info 4 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return out;
}

bool write_text_png(const std::string& path, const std::vector<std::string>& lines) {
  setMsgSeverity(L_SEVERITY_NONE);
  L_BMF* bmf = bmfCreate(nullptr, 20);  // null dir: the font bitmaps compiled into leptonica
  if (!bmf) return false;
  const int line_h = 80, width = 1000;  // y is the baseline; size 20 glyphs are ~45 px tall
  PIX* pix = pixCreate(width, line_h * (static_cast<int>(lines.size()) + 1), 8);
  pixSetAllArbitrary(pix, 255);
  int y = line_h;
  for (const auto& line : lines) {
    l_int32 w = 0, overflow = 0;
    pixSetTextline(pix, bmf, line.c_str(), 0x00000000, 40, y, &w, &overflow);
    y += line_h;
  }
  PIX* big = pixScale(pix, 1.0f, 1.0f);
  pixSetResolution(big, 300, 300);
  const bool ok = big && pixWrite(path.c_str(), big, IFF_PNG) == 0;
  pixDestroy(&pix);
  pixDestroy(&big);
  bmfDestroy(&bmf);
  return ok;
}

std::string canonical_dump(const std::string& db_path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return "cannot open";
  std::vector<std::string> rows;
  auto collect = [&](const char* sql, const char* tag) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
      rows.push_back(std::string("prepare failed: ") + sqlite3_errmsg(db));
      return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row = tag;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        row += '|';
        row += t ? reinterpret_cast<const char*>(t) : "NULL";
      }
      rows.push_back(row);
    }
    sqlite3_finalize(st);
  };
  collect("SELECT path, kind, title, size, mtime_ns, hash, pages, chunk_tokens, overlap_tokens, metadata "
          "FROM documents ORDER BY path", "D");
  collect("SELECT d.path, c.seq, c.title, c.heading, c.text, c.page, c.line_start, c.line_end, c.byte_start, "
          "c.byte_end, hex(c.embedding) FROM chunks c JOIN documents d ON d.id = c.doc_id ORDER BY d.path, c.seq", "C");
  // The FTS index must agree with its content table (fails loudly on a torn write).
  collect("SELECT d.path, c.seq FROM chunks_fts f JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.doc_id "
          "WHERE chunks_fts MATCH '\"the\" OR \"and\" OR \"of\"' ORDER BY d.path, c.seq", "F");
  sqlite3_close(db);
  std::ostringstream os;
  for (const auto& r : rows) os << r << "\n";
  return os.str();
}

ScopedEnv::ScopedEnv(const char* name, const std::string& value) : name_(name) { setenv(name, value.c_str(), 1); }
ScopedEnv::~ScopedEnv() { unsetenv(name_.c_str()); }

}  // namespace plumb::index::test

