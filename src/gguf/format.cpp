#include "gguf/format.h"

#include <utf8proc.h>

#include <cstdio>
#include <limits>

namespace plumb::gguf {

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    if (p[i] < 0x80) {  // ASCII fast path: most keys and tokens
      ++i;
      continue;
    }
    utf8proc_int32_t cp;
    const utf8proc_ssize_t len = utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(n - i), &cp);
    if (len <= 0 || !utf8proc_codepoint_valid(cp)) return false;
    i += static_cast<size_t>(len);
  }
  return true;
}

std::string quote(std::string_view s) {
  constexpr size_t kMaxShown = 80;
  std::string out = "'";
  const bool valid = is_valid_utf8(s);
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || (!valid && c >= 0x80)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMaxShown) out += "...";
  return out + "'";
}

Result<uint64_t> tensor_nbytes(std::span<const int64_t> shape, TensorType type) {
  const auto traits = tensor_type_traits(type);
  if (!traits) return Status::Corrupt("unknown tensor type id " + std::to_string(static_cast<uint32_t>(type)));
  if (shape.empty() || shape.size() > static_cast<size_t>(kMaxDims))
    return Status::Corrupt("has " + std::to_string(shape.size()) + " dimensions, expected 1 to 4");
  uint64_t n_rows = 1;
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t n_elements = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < 0) return Status::Corrupt("dimension " + std::to_string(d) + " is negative (" + std::to_string(shape[d]) + ")");
    const auto ne = static_cast<uint64_t>(shape[d]);
    if (ne != 0 && n_elements > kMax / ne)
      return Status::Corrupt("element count overflows (dimension " + std::to_string(d) + " is " + std::to_string(ne) + ")");
    n_elements *= ne;
    if (d > 0) n_rows *= ne;  // cannot overflow: bounded by n_elements unless ne[0] == 0
  }
  const auto ne0 = static_cast<uint64_t>(shape[0]);
  if (ne0 % traits->block_size != 0)
    return Status::Corrupt("row length " + std::to_string(ne0) + " is not a multiple of " + std::string(traits->name) +
                           "'s block size " + std::to_string(traits->block_size));
  if (ne0 == 0) return uint64_t{0};
  const uint64_t n_blocks = ne0 / traits->block_size;
  if (n_blocks > kMax / traits->type_size) return Status::Corrupt("byte size overflows");
  const uint64_t row_bytes = n_blocks * traits->type_size;
  if (n_rows != 0 && row_bytes > kMax / n_rows) return Status::Corrupt("byte size overflows");
  return row_bytes * n_rows;
}

}  // namespace plumb::gguf
