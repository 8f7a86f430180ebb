// Which loader reads which file: extension first, then magic bytes.
#include <algorithm>
#include <cstring>

#include "index/loader.h"

namespace plumb::index {
namespace {

std::string lower_extension(std::string_view path) {
  size_t slash = path.find_last_of('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  size_t dot = base.find_last_of('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  std::string ext(base.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string sniff(std::string_view head) {
  if (head.substr(0, 1024).find("%PDF-") != std::string_view::npos) return "pdf";
  if (starts_with(head, "\x89PNG\r\n\x1a\n")) return "image";
  if (starts_with(head, "\xFF\xD8\xFF")) return "image";
  if (starts_with(head, "II*\0") || starts_with(head, std::string_view("MM\0*", 4))) return "image";
  if (looks_binary(head)) return "";
  std::string lower(head.substr(0, 512));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.find("<!doctype html") != std::string::npos || lower.find("<html") != std::string::npos) return "html";
  return "text";
}

}  // namespace

std::string detect_kind(std::string_view path, std::string_view head) {
  static const char* const kText[] = {"txt", "text", "log", "rst", "org", "adoc", "tex", "me", "nfo"};
  static const char* const kMarkdown[] = {"md", "markdown", "mdown", "mkd"};
  static const char* const kHtml[] = {"html", "htm", "xhtml"};
  static const char* const kCsv[] = {"csv", "tsv"};
  static const char* const kImage[] = {"png", "jpg", "jpeg", "tif", "tiff"};
  const std::string ext = lower_extension(path);
  auto in = [&](const auto& list) {
    return std::any_of(std::begin(list), std::end(list), [&](const char* e) { return ext == e; });
  };
  if (in(kMarkdown)) return "markdown";
  if (in(kHtml)) return "html";
  if (in(kCsv)) return "csv";
  if (ext == "pdf") return "pdf";
  if (in(kImage)) return "image";
  if (in(kText)) return looks_binary(head) ? "" : "text";
  if (ext.empty()) return sniff(head);  // README, LICENSE, files from a scanner
  // A known binary signature under an unexpected extension is still readable.
  std::string s = sniff(head);
  return s == "text" ? "" : s;
}

Result<LoadedDocument> load_document(std::string_view kind, std::string_view data, std::string_view name) {
  if (kind == "text") return load_text(data, name);
  if (kind == "markdown") return load_markdown(data, name);
  if (kind == "html") return load_html(data, name);
  if (kind == "pdf") return load_pdf(data, name);
  if (kind == "csv") return load_csv(data, name);
  if (kind == "image") return load_image(data, name);
  return Status::Unsupported(std::string(name) + ": unknown document type '" + std::string(kind) + "'");
}

}  // namespace plumb::index
