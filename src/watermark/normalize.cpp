// Opt-in text normalisation before detection: the reference detector's default "unicode"
// normaliser (lm-watermarking normalizers.py, UnicodeSanitizer with ruleset "whitespaces"),
// step by step, because the order decides the result (" \n " keeps two spaces).
#include <utf8proc.h>

#include <cstdlib>
#include <vector>

#include "plumb/watermark.h"

namespace plumb {

namespace {

// Invisible and unusual space characters the reference replaces with one space.
bool is_odd_space(utf8proc_int32_t c) {
  return c == 0x00A0 || c == 0x1680 || c == 0x180E || (c >= 0x2000 && c <= 0x200F) || c == 0x2060 ||
         c == 0x2063 || (c >= 0x202A && c <= 0x202F) || c == 0x205F || c == 0x3000 || c == 0xFEFF ||
         c == 0xFFA0 || (c >= 0xFFF9 && c <= 0xFFFB) || (c >= 0xFE00 && c <= 0xFE0F) || c == 0x3164;
}

}  // namespace

Result<std::string> watermark_normalize(std::string_view text) {
  utf8proc_uint8_t* nfc = nullptr;
  const utf8proc_ssize_t len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &nfc, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (len < 0)
    return Status::InvalidArgument(std::string("text normalisation: ") + utf8proc_errmsg(len) +
                                   " (expected valid UTF-8)");
  // 1. NFC (done).  2. odd spaces -> ' '.  3. runs of ' ' -> one.  4. drop control characters (Cc).
  std::vector<utf8proc_int32_t> cps;
  cps.reserve(static_cast<size_t>(len));
  for (utf8proc_ssize_t i = 0; i < len;) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t step = utf8proc_iterate(nfc + i, len - i, &cp);
    if (step <= 0) break;  // cannot happen: utf8proc_map produced valid UTF-8
    if (is_odd_space(cp)) cp = ' ';
    if (!(cp == ' ' && !cps.empty() && cps.back() == ' ')) cps.push_back(cp);
    i += step;
  }
  std::free(nfc);
  std::string out;
  out.reserve(cps.size());
  for (utf8proc_int32_t cp : cps) {
    if (utf8proc_category(cp) == UTF8PROC_CATEGORY_CC) continue;
    utf8proc_uint8_t buf[4];
    const utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
  }
  return out;
}

}  // namespace plumb
