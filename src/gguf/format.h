// gguf/format.h — constants and small helpers shared by the GGUF reader, writer and
// synthesizer (internal to the gguf module).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "plumb/gguf.h"

namespace plumb::gguf {

inline constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
inline constexpr uint32_t kWriteVersion = 3;
inline constexpr uint64_t kDefaultAlignment = 32;
inline constexpr std::string_view kAlignmentKey = "general.alignment";
inline constexpr int kMaxDims = 4;
// Nested arrays deeper than this are rejected (real files use depth 1) so that a
// hostile file cannot exhaust the stack.
inline constexpr int kMaxArrayDepth = 8;
// Bound on metadata values (array elements included).  A Value costs ~90 bytes, so this caps
// what a hostile file can make us allocate at ~400 MB; the largest real vocabularies hold
// a few hundred thousand values per array (tokens, scores, types, merges: < 2 M in all).
inline constexpr uint64_t kMaxMetadataValues = uint64_t{1} << 22;

// True iff `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool is_valid_utf8(std::string_view s);
// `s` quoted for an error message; invalid bytes and control characters are escaped.
std::string quote(std::string_view s);

// REQUIRES: a is a power of two; x + a does not overflow.
inline uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }
inline bool is_power_of_two(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

// Bytes of a tensor of `shape` and `type`, or an error naming what is wrong (unknown type,
// negative dimension, row length not a multiple of the block size, overflow).  The message
// has no file/tensor prefix; callers add it.
Result<uint64_t> tensor_nbytes(std::span<const int64_t> shape, TensorType type);

}  // namespace plumb::gguf
