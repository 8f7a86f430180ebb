// tokenizer/unicode.h — the few Unicode facts the tokenizers need, with llama.cpp's
// conventions for malformed input (each undecodable byte becomes U+FFFD).
//
// Character classes come from utf8proc; whitespace is the White_Space property set
// that llama.cpp and Python's `\s` use (which includes U+0085, unlike PCRE2 10.42's \s).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace plumb::tok {

constexpr uint32_t kReplacementChar = 0xFFFD;

// Byte length of the UTF-8 sequence that starts with `lead` (1 for continuation or
// invalid bytes), as llama.cpp counts it: the length is taken from the lead byte alone.
inline size_t utf8_len(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Decodes one code point at text[*pos] and advances *pos.  A malformed sequence
// consumes one byte and yields U+FFFD.  Overlong forms and surrogates are decoded
// arithmetically (as llama.cpp does); code points above U+10FFFF become U+FFFD.
uint32_t decode_utf8(std::string_view text, size_t* pos);

// Appends the UTF-8 encoding of `cp` (U+FFFD when cp > U+10FFFF).
void append_utf8(uint32_t cp, std::string* out);

// Re-encodes `text` code point by code point: malformed bytes become U+FFFD and
// overlong forms become canonical.  The result is what llama.cpp's regex splitter
// sees.  `*pcre_safe` gets the same bytes with surrogates replaced by U+FFFD
// (same length) so that PCRE2 in UTF mode accepts it.
void canonicalize_utf8(std::string_view text, std::string* canonical, std::string* pcre_safe);

// True iff `text` is valid UTF-8 (no surrogates, no overlongs, <= U+10FFFF).
bool is_valid_utf8(std::string_view text);

// Length of the longest prefix of `text` that is complete, valid UTF-8 sequences
// followed by at most an incomplete (but so far valid) sequence at the end:
// returns the byte count up to the start of that incomplete tail.
size_t utf8_complete_prefix(std::string_view text);

// Replaces every malformed sequence with U+FFFD (one per maximal invalid subpart).
std::string sanitize_utf8(std::string_view text);

struct CharFlags {
  bool letter = false;      // L*
  bool number = false;      // N*
  bool punctuation = false; // P*
  bool symbol = false;      // S*
  bool mark = false;        // M*
  bool control = false;     // Cc Cf Cs Co
  bool separator = false;   // Z*
  bool whitespace = false;  // White_Space property
};
CharFlags char_flags(uint32_t cp);
bool is_whitespace(uint32_t cp);
uint32_t to_lower(uint32_t cp);
// First code point of the canonical decomposition (what llama.cpp's NFD table keeps).
uint32_t nfd_first(uint32_t cp);

// GPT-2's reversible byte <-> printable code point mapping.
// The UTF-8 text of the code point that stands for byte `b`.
std::string_view byte_to_unicode(uint8_t b);
// The byte that code point `cp` stands for, or -1.
int unicode_to_byte(uint32_t cp);

}  // namespace plumb::tok
