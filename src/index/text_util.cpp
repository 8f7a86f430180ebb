#include <cstring>

#include "index/loader.h"

namespace plumb::index {
namespace {

// Length of the valid UTF-8 sequence at data[i], or 0 when invalid (overlongs, surrogates
// and code points past U+10FFFF are invalid).
size_t utf8_seq_len(std::string_view d, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(d[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
  else return 0;
  if (i + n > d.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return n;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

std::string repair_utf8(std::string_view data, std::string* warning) {
  if (warning) warning->clear();
  if (data.size() >= 3 && std::memcmp(data.data(), "\xEF\xBB\xBF", 3) == 0) data.remove_prefix(3);
  size_t invalid = 0, multibyte = 0;
  for (size_t i = 0; i < data.size();) {
    size_t n = utf8_seq_len(data, i);
    if (n == 0) { ++invalid; ++i; }
    else { if (n > 1) ++multibyte; i += n; }
  }
  if (invalid == 0) return std::string(data);
  std::string out;
  out.reserve(data.size() + invalid * 2);
  if (multibyte == 0) {
    // Nothing in the file is UTF-8 beyond ASCII: a legacy single-byte encoding, most likely
    // Latin-1 (whose code points equal its byte values).
    for (unsigned char c : data) append_utf8(out, c);
    if (warning) *warning = "not valid UTF-8 (" + std::to_string(invalid) + " bytes); decoded as Latin-1";
    return out;
  }
  for (size_t i = 0; i < data.size();) {
    size_t n = utf8_seq_len(data, i);
    if (n == 0) { out += "\xEF\xBF\xBD"; ++i; }
    else { out.append(data.substr(i, n)); i += n; }
  }
  if (warning) *warning = std::to_string(invalid) + " invalid UTF-8 bytes replaced with U+FFFD";
  return out;
}

std::string normalize_whitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      while (!out.empty() && out.back() == ' ') out.pop_back();
      out += '\n';
      pending_space = false;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      pending_space = true;
    } else if (c < 0x20 || c == 0x7F) {
      pending_space = true;  // other control characters act as separators
    } else if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xA0) {
      pending_space = true;  // U+00A0 no-break space
      ++i;
    } else {
      if (pending_space && !out.empty() && out.back() != '\n') out += ' ';
      pending_space = false;
      out += static_cast<char>(c);
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
  size_t start = 0;
  while (start < out.size() && out[start] == '\n') ++start;
  return out.substr(start);
}

int count_words(std::string_view text) {
  int n = 0;
  bool in_word = false;
  for (char ch : text) {
    const bool space = ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

bool looks_binary(std::string_view head) { return head.find('\0') != std::string_view::npos; }

}  // namespace plumb::index
