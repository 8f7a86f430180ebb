// gguf/serialize.h — encoding of the GGUF header and atomic file output, shared by
// Writer (in-memory tensors) and synth_write (tensors streamed one at a time).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "plumb/gguf.h"

namespace plumb::gguf {

// The alignment `metadata` asks for (general.alignment, default 32), or InvalidArgument.
Result<uint64_t> alignment_of(const std::vector<KeyValue>& metadata);

// Checks names, shapes and values, assigns each tensor's offset (aligned, in order) and
// n_bytes, and encodes magic, version 3, counts, metadata and tensor infos, padded to the
// start of the data section.  Tensor i's bytes then go at data start + tensors[i].offset,
// each followed by zero padding to the alignment (as ggml writes them).
Result<std::vector<uint8_t>> encode_header(const std::vector<KeyValue>& metadata, std::vector<TensorInfo>& tensors);

// Zero bytes that follow a tensor of n_bytes.
inline uint64_t padding_after(uint64_t n_bytes, uint64_t alignment) {
  return (alignment - n_bytes % alignment) % alignment;
}

// A file that appears at `path` only when commit() succeeds: data goes to a temporary
// file in the same directory, renamed over `path` at the end.  Destroying an uncommitted
// AtomicFile removes the temporary.  Not thread-safe.
class AtomicFile {
 public:
  AtomicFile() = default;
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status open(const std::string& path);
  Status write(std::span<const uint8_t> bytes);
  Status write_zeros(uint64_t n);
  Status commit();

 private:
  std::string path_;
  std::string tmp_path_;
  std::unique_ptr<char[]> buffer_;  // stdio's buffer (glibc ignores a size without one)
  std::FILE* file_ = nullptr;
};

}  // namespace plumb::gguf
