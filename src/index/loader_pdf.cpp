// PDF through poppler-cpp: one section per page, with its 1-based page number.  The document
// info Title, when present, is the title.  Poppler's own diagnostics are silenced; a file it
// cannot open becomes a Corrupt status.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <memory>
#include <mutex>

#include "index/loader.h"

namespace plumb::index {
namespace {

void silence_poppler() {
  static std::once_flag once;
  std::call_once(once, [] { poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr); });
}

std::string to_utf8(const poppler::ustring& s) {
  poppler::byte_array b = s.to_utf8();
  return std::string(b.begin(), b.end());
}

}  // namespace

Result<LoadedDocument> load_pdf(std::string_view data, std::string_view name) {
  silence_poppler();
  if (data.size() > static_cast<size_t>(INT32_MAX))
    return Status::Unsupported(std::string(name) + ": PDF larger than 2 GiB");
  if (data.substr(0, 1024).find("%PDF-") == std::string_view::npos)
    return Status::Corrupt(std::string(name) + ": not a PDF (no '%PDF-' header in the first 1024 bytes)");
  std::unique_ptr<poppler::document> pdf(
      poppler::document::load_from_raw_data(data.data(), static_cast<int>(data.size())));
  if (!pdf) return Status::Corrupt(std::string(name) + ": poppler cannot open this PDF (damaged or unsupported)");
  if (pdf->is_locked()) return Status::Unsupported(std::string(name) + ": PDF is encrypted with a password");
  LoadedDocument doc;
  doc.kind = "pdf";
  doc.title = normalize_whitespace(to_utf8(pdf->get_title()));
  const int n = pdf->pages();
  doc.pages = n;
  int empty_pages = 0;
  for (int i = 0; i < n; ++i) {
    std::unique_ptr<poppler::page> page(pdf->create_page(i));
    if (!page) {
      doc.warnings.push_back("page " + std::to_string(i + 1) + " cannot be read; skipped");
      continue;
    }
    std::string warning;
    std::string text = normalize_whitespace(
        repair_utf8(to_utf8(page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout)), &warning));
    if (text.empty()) {
      ++empty_pages;
      continue;
    }
    Section s;
    s.text = std::move(text);
    s.page = i + 1;
    doc.sections.push_back(std::move(s));
  }
  if (n > 0 && empty_pages == n)
    doc.warnings.push_back("no text layer on any of its " + std::to_string(n) + " pages (scanned PDF?)");
  return doc;
}

}  // namespace plumb::index
