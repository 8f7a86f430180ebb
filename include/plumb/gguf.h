// plumb/gguf.h — reading and writing GGUF model files.
//
// GGUF layout (all little-endian; version 2 and 3 share it, version 1 used u32 counts and is rejected):
//   1. magic "GGUF" (4 bytes)               2. version (u32)
//   3. tensor count (u64)                   4. metadata key/value count (u64)
//   5. metadata: key (string), value type (u32), value
//        string = u64 length + bytes (UTF-8, no terminator)
//        array  = element type (u32) + u64 count + elements (arrays may nest)
//   6. tensor infos: name (string), n_dims (u32, 1..4), ne[n_dims] (u64 each; ne[0] is the
//      contiguous row length), type (u32, a ggml type id), offset (u64, relative to the data
//      section, a multiple of the alignment)
//   7. padding to `general.alignment` (u32 metadata, default 32), then the data section.
//
// Thread safety: a File is immutable after Open and may be read from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/page_cache.h"
#include "plumb/status.h"
#include "plumb/tensor_type.h"

namespace plumb::gguf {

enum class ValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
std::string_view value_type_name(ValueType t);

// One metadata value.  Scalars keep their original type; integer accessors convert
// between integer types when the value fits.
struct Value {
  ValueType type = ValueType::kUint8;
  ValueType array_type = ValueType::kUint8;  // element type, when type == kArray
  uint64_t u = 0;       // kUint*, kBool
  int64_t i = 0;        // kInt*
  double f = 0;         // kFloat32/64
  std::string str;      // kString
  std::vector<Value> array;  // kArray

  static Value u32(uint32_t v);
  static Value i32(int32_t v);
  static Value u64(uint64_t v);
  static Value f32(float v);
  static Value boolean(bool v);
  static Value string(std::string v);
  static Value string_array(const std::vector<std::string>& v);
  static Value f32_array(const std::vector<float>& v);
  static Value i32_array(const std::vector<int32_t>& v);
};

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the contiguous (row) dimension
  TensorType type = TensorType::kF32;
  uint64_t offset = 0;         // relative to the start of the data section
  uint64_t n_bytes = 0;        // computed from shape and type
  int64_t n_elements() const;
};

struct OpenOptions {
  // What to do when the OS page cache holds the file in small pages (plumb/page_cache.h).
  PageCache page_cache = PageCache::kAuto;
};

// A GGUF file mapped into memory (or a caller-owned buffer).
class File {
 public:
  // Maps `path` read-only and validates every header field, offset and size
  // against the file before returning.
  static Result<std::unique_ptr<File>> open(const std::string& path, const OpenOptions& opts = {});
  // Parses a caller-owned buffer, which must outlive the File.  `name` is used in messages.
  static Result<std::unique_ptr<File>> from_buffer(const uint8_t* data, size_t size, std::string name);

  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  // The whole file's bytes (the mapping, or the caller's buffer).
  std::span<const uint8_t> contents() const { return {data_, static_cast<size_t>(size_)}; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return size_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute offset of the data section
  // Bytes of the file that open() dropped from the page cache (OpenOptions::page_cache), so
  // that they are read again from disk this time, as 2 MiB pages; 0 when it kept the cache.
  uint64_t page_cache_reread_bytes() const { return page_cache_reread_bytes_; }

  const std::vector<KeyValue>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;  // nullptr when absent

  // Typed getters: NotFound when absent, InvalidArgument/Corrupt when the type does
  // not fit; the message names the file and the key.
  Result<std::string> get_string(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;  // any integer type
  Result<double> get_float(std::string_view key) const;  // f32/f64 (or an integer)
  Result<bool> get_bool(std::string_view key) const;
  Result<std::vector<std::string>> get_string_array(std::string_view key) const;
  Result<std::vector<float>> get_float_array(std::string_view key) const;
  Result<std::vector<int64_t>> get_int_array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;  // nullptr when absent
  // The tensor's bytes inside the mapping; valid as long as this File lives.
  std::span<const uint8_t> tensor_data(const TensorInfo& t) const;

 private:
  File() = default;
  friend class Parser;
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  bool owns_mapping_ = false;
  uint64_t page_cache_reread_bytes_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> metadata_;
  std::vector<TensorInfo> tensors_;
};

// Builds a GGUF file in memory order and writes it in one pass.
class Writer {
 public:
  Writer();
  ~Writer();
  void set(std::string key, Value value);  // replaces an existing key, keeps order otherwise
  // Adds a tensor from F32 data, converting (quantizing blockwise where needed) to `type`.
  // `shape` is in ggml order.  Fails when the type cannot be produced or shape[0] is not a
  // multiple of the type's block size.
  Status add_tensor_f32(std::string name, std::vector<int64_t> shape, TensorType type, std::span<const float> data);
  // Adds a tensor whose bytes are already in `type`'s layout.
  Status add_tensor_raw(std::string name, std::vector<int64_t> shape, TensorType type, std::vector<uint8_t> bytes);
  // Writes version 3 with the configured alignment (general.alignment, default 32)
  // to `path` atomically (temporary file + rename).
  Status write(const std::string& path) const;
  std::vector<uint8_t> to_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb::gguf
