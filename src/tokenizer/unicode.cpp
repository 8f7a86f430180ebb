#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <array>

namespace plumb::tok {

uint32_t decode_utf8(std::string_view s, size_t* pos) {
  const size_t i = *pos;
  const auto b = [&](size_t k) -> uint32_t { return static_cast<uint8_t>(s[i + k]); };
  const auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  const uint32_t c0 = b(0);
  if (c0 < 0x80) {
    *pos = i + 1;
    return c0;
  }
  if ((c0 & 0xE0) == 0xC0 && cont(1)) {
    *pos = i + 2;
    return ((c0 & 0x1F) << 6) | (b(1) & 0x3F);
  }
  if ((c0 & 0xF0) == 0xE0 && cont(1) && cont(2)) {
    *pos = i + 3;
    return ((c0 & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  }
  if ((c0 & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
    *pos = i + 4;
    const uint32_t cp = ((c0 & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    return cp > 0x10FFFF ? kReplacementChar : cp;
  }
  *pos = i + 1;  // malformed: consume one byte
  return kReplacementChar;
}

void append_utf8(uint32_t cp, std::string* out) {
  if (cp > 0x10FFFF) cp = kReplacementChar;
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void canonicalize_utf8(std::string_view text, std::string* canonical, std::string* pcre_safe) {
  canonical->clear();
  canonical->reserve(text.size() + 8);
  bool has_surrogate = false;
  size_t pos = 0;
  while (pos < text.size()) {
    // Fast path for ASCII runs.
    const uint8_t c = static_cast<uint8_t>(text[pos]);
    if (c < 0x80) {
      size_t end = pos + 1;
      while (end < text.size() && static_cast<uint8_t>(text[end]) < 0x80) ++end;
      canonical->append(text.data() + pos, end - pos);
      pos = end;
      continue;
    }
    const uint32_t cp = decode_utf8(text, &pos);
    if (cp >= 0xD800 && cp <= 0xDFFF) has_surrogate = true;
    append_utf8(cp, canonical);
  }
  if (pcre_safe == nullptr) return;
  if (!has_surrogate) {
    pcre_safe->clear();
    return;  // caller uses `canonical` directly
  }
  *pcre_safe = *canonical;
  std::string& s = *pcre_safe;
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    if (static_cast<uint8_t>(s[i]) == 0xED && (static_cast<uint8_t>(s[i + 1]) & 0xE0) == 0xA0) {
      s[i] = static_cast<char>(0xEF);
      s[i + 1] = static_cast<char>(0xBF);
      s[i + 2] = static_cast<char>(0xBD);
      i += 2;
    }
  }
}

namespace {
// Length of the valid sequence at s[i], 0 when invalid, -1 when valid so far but truncated.
int valid_seq_len(std::string_view s, size_t i) {
  const uint8_t c0 = static_cast<uint8_t>(s[i]);
  if (c0 < 0x80) return 1;
  int n;
  uint8_t lo = 0x80, hi = 0xBF;
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    n = 2;
  } else if (c0 >= 0xE0 && c0 <= 0xEF) {
    n = 3;
    if (c0 == 0xE0) lo = 0xA0;
    if (c0 == 0xED) hi = 0x9F;
  } else if (c0 >= 0xF0 && c0 <= 0xF4) {
    n = 4;
    if (c0 == 0xF0) lo = 0x90;
    if (c0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (int k = 1; k < n; ++k) {
    if (i + k >= s.size()) return -1;
    const uint8_t c = static_cast<uint8_t>(s[i + k]);
    const uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (c < l || c > h) return 0;
  }
  return n;
}
}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const int n = valid_seq_len(s, i);
    if (n <= 0) return false;
    i += n;
  }
  return true;
}

size_t utf8_complete_prefix(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const int n = valid_seq_len(s, i);
    if (n < 0) return i;
    i += n == 0 ? 1 : n;
  }
  return i;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const int n = valid_seq_len(s, i);
    if (n > 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

bool is_whitespace(uint32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

CharFlags char_flags(uint32_t cp) {
  CharFlags f;
  f.whitespace = is_whitespace(cp);
  if (cp > 0x10FFFF) return f;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
      f.letter = true; break;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
      f.mark = true; break;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      f.number = true; break;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      f.punctuation = true; break;
    case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
      f.symbol = true; break;
    case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
      f.separator = true; break;
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
      f.control = true; break;
    default: break;
  }
  return f;
}

uint32_t to_lower(uint32_t cp) {
  if (cp > 0x10FFFF) return cp;
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

uint32_t nfd_first(uint32_t cp) {
  if (cp < 0xC0 || cp > 0x10FFFF) return cp;
  utf8proc_int32_t buf[8];
  int last_boundclass = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 8,
                                                     UTF8PROC_DECOMPOSE, &last_boundclass);
  return n >= 1 ? static_cast<uint32_t>(buf[0]) : cp;
}

namespace {
struct ByteMaps {
  std::array<std::string, 256> to_unicode;
  std::array<int16_t, 512> from_unicode;  // code points below 512 cover the whole mapping
  ByteMaps() {
    from_unicode.fill(-1);
    auto direct = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const uint32_t cp = direct(b) ? b : 256 + n++;
      append_utf8(cp, &to_unicode[b]);
      from_unicode[cp] = static_cast<int16_t>(b);
    }
  }
};
const ByteMaps& byte_maps() {
  static const ByteMaps maps;
  return maps;
}
}  // namespace

std::string_view byte_to_unicode(uint8_t b) { return byte_maps().to_unicode[b]; }

int unicode_to_byte(uint32_t cp) { return cp < 512 ? byte_maps().from_unicode[cp] : -1; }

}  // namespace plumb::tok
