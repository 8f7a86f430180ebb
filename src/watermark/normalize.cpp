// Opt-in text normalisation before detection (see watermark.h for why it is opt-in).
#include <utf8proc.h>

#include <cstdlib>

#include "plumb/watermark.h"

namespace plumb {

Result<std::string> watermark_normalize(std::string_view text) {
  utf8proc_uint8_t* nfc = nullptr;
  const utf8proc_ssize_t len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &nfc, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (len < 0)
    return Status::InvalidArgument(std::string("text normalisation: ") + utf8proc_errmsg(len) +
                                   " (expected valid UTF-8)");
  std::string out;
  out.reserve(static_cast<size_t>(len));
  bool pending_space = false;
  for (utf8proc_ssize_t i = 0; i < len;) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t step = utf8proc_iterate(nfc + i, len - i, &cp);
    if (step <= 0) break;  // cannot happen: utf8proc_map produced valid UTF-8
    const auto category = utf8proc_category(cp);
    const bool space = cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
                       category == UTF8PROC_CATEGORY_ZS || category == UTF8PROC_CATEGORY_ZL ||
                       category == UTF8PROC_CATEGORY_ZP;
    if (space) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      out.append(reinterpret_cast<const char*>(nfc + i), static_cast<size_t>(step));
    }
    i += step;
  }
  std::free(nfc);
  return out;
}

}  // namespace plumb
