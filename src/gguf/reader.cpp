// GGUF reader: every count, length and offset is checked against the bytes that remain
// before it is used, so a hostile file yields a Status, never a crash or a huge allocation.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "core/huge_pages.h"
#include "gguf/format.h"
#include "plumb/gguf.h"

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

namespace plumb::gguf {

namespace {

std::string bytes_str(uint64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

// Smallest encoding of one value of type `t`: lets us reject a count before allocating.
uint64_t min_value_size(ValueType t) {
  switch (t) {
    case ValueType::kUint8: case ValueType::kInt8: case ValueType::kBool: return 1;
    case ValueType::kUint16: case ValueType::kInt16: return 2;
    case ValueType::kUint32: case ValueType::kInt32: case ValueType::kFloat32: return 4;
    case ValueType::kUint64: case ValueType::kInt64: case ValueType::kFloat64: return 8;
    case ValueType::kString: return 8;   // u64 length
    case ValueType::kArray: return 12;   // u32 element type + u64 count
  }
  return 1;
}

bool is_known_value_type(uint32_t id) { return id <= static_cast<uint32_t>(ValueType::kFloat64); }

// Sizes of the fixed parts, used to cap the tensor and key counts by the remaining bytes.
constexpr uint64_t kMinKeyValueSize = 8 + 1 + 4 + 1;          // key length, 1-byte key, type, 1-byte value
constexpr uint64_t kMinTensorInfoSize = 8 + 1 + 4 + 8 + 4 + 8;  // name length, name, n_dims, ne[0], type, offset

// Counts come from the file: reserve at most this many slots up front, grow beyond it only as
// entries actually parse.
size_t capped(uint64_t n) { return static_cast<size_t>(std::min<uint64_t>(n, 1 << 16)); }

}  // namespace

// Parses a whole GGUF image into a File.  Messages returned by the helpers have no file
// prefix; parse() adds it once.
class Parser {
 public:
  Parser(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}

  Status parse(File& f) {
    PLUMB_RETURN_IF_ERROR(parse_header(f));
    PLUMB_RETURN_IF_ERROR(parse_metadata(f));
    PLUMB_RETURN_IF_ERROR(parse_alignment(f));
    PLUMB_RETURN_IF_ERROR(parse_tensor_infos(f));
    return check_data_section(f);
  }

 private:
  uint64_t remaining() const { return size_ - pos_; }

  Status truncated(std::string_view what, uint64_t n) const {
    return Status::Corrupt("file truncated: " + std::string(what) + " needs " + bytes_str(n) + " at byte " +
                           std::to_string(pos_) + ", but the file ends at byte " + std::to_string(size_));
  }

  template <typename T>
  Status read(T& out, std::string_view what) {
    if (remaining() < sizeof(T)) return truncated(what, sizeof(T));
    std::memcpy(&out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  Status read_string(std::string& out, std::string_view what) {
    uint64_t len = 0;
    if (remaining() < sizeof len) return truncated(std::string(what) + " length", sizeof len);
    PLUMB_RETURN_IF_ERROR(read(len, "string length"));
    if (len > remaining())
      return Status::Corrupt(std::string(what) + ": string length " + std::to_string(len) + " at byte " +
                             std::to_string(pos_ - 8) + " exceeds the remaining " + bytes_str(remaining()));
    const std::string_view s(reinterpret_cast<const char*>(data_ + pos_), len);
    if (!is_valid_utf8(s)) return Status::Corrupt(std::string(what) + " " + quote(s) + " is not valid UTF-8");
    out.assign(s);
    pos_ += len;
    return Status::Ok();
  }

  Status count_values(uint64_t n) {
    n_values_ += n;
    if (n_values_ > kMaxMetadataValues)
      return Status::Corrupt("metadata holds more than " + std::to_string(kMaxMetadataValues) +
                             " values (array elements included); refusing to load it");
    return Status::Ok();
  }

  // Reads one value of type `t`; the message of an error has no key prefix.
  Status read_value(ValueType t, Value& v, int depth) {
    v.type = t;
    switch (t) {
      case ValueType::kUint8: { uint8_t x{}; PLUMB_RETURN_IF_ERROR(read(x, "u8 value")); v.u = x; break; }
      case ValueType::kInt8: { int8_t x{}; PLUMB_RETURN_IF_ERROR(read(x, "i8 value")); v.i = x; break; }
      case ValueType::kUint16: { uint16_t x{}; PLUMB_RETURN_IF_ERROR(read(x, "u16 value")); v.u = x; break; }
      case ValueType::kInt16: { int16_t x{}; PLUMB_RETURN_IF_ERROR(read(x, "i16 value")); v.i = x; break; }
      case ValueType::kUint32: { uint32_t x{}; PLUMB_RETURN_IF_ERROR(read(x, "u32 value")); v.u = x; break; }
      case ValueType::kInt32: { int32_t x{}; PLUMB_RETURN_IF_ERROR(read(x, "i32 value")); v.i = x; break; }
      case ValueType::kUint64: { uint64_t x{}; PLUMB_RETURN_IF_ERROR(read(x, "u64 value")); v.u = x; break; }
      case ValueType::kInt64: { int64_t x{}; PLUMB_RETURN_IF_ERROR(read(x, "i64 value")); v.i = x; break; }
      case ValueType::kFloat32: { float x{}; PLUMB_RETURN_IF_ERROR(read(x, "f32 value")); v.f = x; break; }
      case ValueType::kFloat64: { double x{}; PLUMB_RETURN_IF_ERROR(read(x, "f64 value")); v.f = x; break; }
      case ValueType::kBool: {
        uint8_t x = 0;
        PLUMB_RETURN_IF_ERROR(read(x, "bool value"));
        if (x > 1) return Status::Corrupt("bool value at byte " + std::to_string(pos_ - 1) + " is " + std::to_string(x) + ", expected 0 or 1");
        v.u = x;
        break;
      }
      case ValueType::kString: return read_string(v.str, "string");
      case ValueType::kArray: return read_array(v, depth + 1);
    }
    return Status::Ok();
  }

  Status read_array(Value& v, int depth) {
    if (depth > kMaxArrayDepth)
      return Status::Corrupt("arrays nested more than " + std::to_string(kMaxArrayDepth) + " deep");
    uint32_t et = 0;
    PLUMB_RETURN_IF_ERROR(read(et, "array element type"));
    if (!is_known_value_type(et))
      return Status::Corrupt("array has unknown element type id " + std::to_string(et) + " (expected 0 to 12)");
    v.array_type = static_cast<ValueType>(et);
    uint64_t n = 0;
    PLUMB_RETURN_IF_ERROR(read(n, "array length"));
    const uint64_t min = min_value_size(v.array_type);
    if (n > remaining() / min)
      return Status::Corrupt("array of " + std::to_string(n) + " " + std::string(value_type_name(v.array_type)) +
                             " elements needs at least " + (n > std::numeric_limits<uint64_t>::max() / min ? std::string("2^64 bytes") : bytes_str(n * min)) +
                             ", but only " + bytes_str(remaining()) + " remain");
    PLUMB_RETURN_IF_ERROR(count_values(n));
    // Grow as elements actually parse: memory stays proportional to bytes consumed.
    v.array.reserve(capped(n));
    for (uint64_t k = 0; k < n; ++k) {
      v.array.emplace_back();
      Status s = read_value(v.array_type, v.array.back(), depth);
      if (!s.ok()) return s.with_context("array element " + std::to_string(k));
    }
    return Status::Ok();
  }

  Status parse_header(File& f) {
    if (size_ < 4) return Status::Corrupt("file is " + bytes_str(size_) + ", too short for a GGUF file (magic 'GGUF' expected)");
    if (std::memcmp(data_, kMagic, 4) != 0)
      return Status::Corrupt("invalid magic " + quote(std::string_view(reinterpret_cast<const char*>(data_), 4)) +
                             ", expected 'GGUF' (not a GGUF file)");
    pos_ = 4;
    uint32_t version = 0;
    PLUMB_RETURN_IF_ERROR(read(version, "version"));
    if (version == 1)
      return Status::Unsupported("GGUF version 1 (an obsolete format) is not supported, expected version 2 or 3");
    if (version != 2 && version != 3) {
      const uint32_t swapped = __builtin_bswap32(version);
      return Status::Corrupt("unsupported GGUF version " + std::to_string(version) + ", expected 2 or 3" +
                             (swapped == 2 || swapped == 3 ? " (this looks like a big-endian file, which plumb does not read)" : ""));
    }
    f.version_ = version;
    PLUMB_RETURN_IF_ERROR(read(n_tensors_, "tensor count"));
    PLUMB_RETURN_IF_ERROR(read(n_kv_, "metadata key/value count"));
    if (n_kv_ > remaining() / kMinKeyValueSize)
      return Status::Corrupt("metadata key/value count " + std::to_string(n_kv_) + " is impossible: the remaining " +
                             bytes_str(remaining()) + " hold at most " + std::to_string(remaining() / kMinKeyValueSize) + " entries");
    if (n_tensors_ > remaining() / kMinTensorInfoSize)
      return Status::Corrupt("tensor count " + std::to_string(n_tensors_) + " is impossible: the remaining " +
                             bytes_str(remaining()) + " hold at most " + std::to_string(remaining() / kMinTensorInfoSize) + " tensor infos");
    return Status::Ok();
  }

  Status parse_metadata(File& f) {
    f.metadata_.reserve(capped(n_kv_));
    std::unordered_map<std::string, uint64_t> seen;
    seen.reserve(capped(n_kv_));
    for (uint64_t k = 0; k < n_kv_; ++k) {
      const std::string where = "metadata entry #" + std::to_string(k);
      KeyValue kv;
      PLUMB_RETURN_IF_ERROR(read_string(kv.key, where + ": key"));
      if (kv.key.empty()) return Status::Corrupt(where + ": empty key");
      auto [it, inserted] = seen.emplace(kv.key, k);
      if (!inserted)
        return Status::Corrupt("duplicate key " + quote(kv.key) + " (metadata entries #" + std::to_string(it->second) +
                               " and #" + std::to_string(k) + ")");
      uint32_t t = 0;
      Status s = read(t, "value type");
      if (s.ok() && !is_known_value_type(t))
        s = Status::Corrupt("unknown value type id " + std::to_string(t) + " (expected 0 to 12)");
      if (s.ok()) s = count_values(1);
      if (s.ok()) s = read_value(static_cast<ValueType>(t), kv.value, 0);
      if (!s.ok()) return s.with_context("key " + quote(kv.key));
      f.metadata_.push_back(std::move(kv));
    }
    return Status::Ok();
  }

  Status parse_alignment(File& f) {
    f.alignment_ = kDefaultAlignment;
    const Value* v = f.find(kAlignmentKey);
    if (v == nullptr) return Status::Ok();
    const std::string ctx = "key '" + std::string(kAlignmentKey) + "'";
    uint64_t a = 0;
    std::string shown;
    switch (v->type) {
      case ValueType::kUint8: case ValueType::kUint16: case ValueType::kUint32: case ValueType::kUint64:
        a = v->u;
        shown = std::to_string(v->u);
        break;
      case ValueType::kInt8: case ValueType::kInt16: case ValueType::kInt32: case ValueType::kInt64:
        a = v->i < 0 ? 0 : static_cast<uint64_t>(v->i);
        shown = std::to_string(v->i);
        break;
      default:
        return Status::Corrupt(ctx + ": expected an integer (u32), found " + std::string(value_type_name(v->type)));
    }
    if (!is_power_of_two(a) || a > (uint64_t{1} << 31))
      return Status::Corrupt(ctx + ": alignment " + shown + " is not a power of two between 1 and 2^31");
    f.alignment_ = a;
    return Status::Ok();
  }

  Status parse_tensor_infos(File& f) {
    f.tensors_.reserve(capped(n_tensors_));
    std::unordered_map<std::string, uint64_t> seen;
    seen.reserve(capped(n_tensors_));
    for (uint64_t k = 0; k < n_tensors_; ++k) {
      TensorInfo t;
      PLUMB_RETURN_IF_ERROR(read_string(t.name, "tensor #" + std::to_string(k) + ": name"));
      if (t.name.empty()) return Status::Corrupt("tensor #" + std::to_string(k) + ": empty name");
      auto [it, inserted] = seen.emplace(t.name, k);
      if (!inserted)
        return Status::Corrupt("duplicate tensor name " + quote(t.name) + " (tensors #" + std::to_string(it->second) +
                               " and #" + std::to_string(k) + ")");
      const std::string ctx = "tensor " + quote(t.name);
      uint32_t n_dims = 0;
      PLUMB_RETURN_IF_ERROR(read(n_dims, "n_dims").with_context(ctx));
      if (n_dims == 0 || n_dims > static_cast<uint32_t>(kMaxDims))
        return Status::Corrupt(ctx + ": n_dims is " + std::to_string(n_dims) + ", expected 1 to 4");
      for (uint32_t d = 0; d < n_dims; ++d) {
        uint64_t ne = 0;
        PLUMB_RETURN_IF_ERROR(read(ne, "dimension").with_context(ctx));
        if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          return Status::Corrupt(ctx + ": dimension " + std::to_string(d) + " is " + std::to_string(ne) + ", too large");
        t.shape.push_back(static_cast<int64_t>(ne));
      }
      uint32_t type = 0;
      PLUMB_RETURN_IF_ERROR(read(type, "type").with_context(ctx));
      if (!tensor_type_traits(type)) return Status::Corrupt(ctx + ": unknown tensor type id " + std::to_string(type));
      t.type = static_cast<TensorType>(type);
      PLUMB_RETURN_IF_ERROR(read(t.offset, "offset").with_context(ctx));
      auto nbytes = tensor_nbytes(t.shape, t.type);
      if (!nbytes.ok()) return nbytes.status().with_context(ctx);
      t.n_bytes = *nbytes;
      if (t.offset % f.alignment_ != 0)
        return Status::Corrupt(ctx + ": offset " + std::to_string(t.offset) + " is not a multiple of the alignment (" +
                               std::to_string(f.alignment_) + ")");
      f.tensors_.push_back(std::move(t));
    }
    return Status::Ok();
  }

  Status check_data_section(File& f) {
    f.data_offset_ = align_up(pos_, f.alignment_);  // pos_ <= size_ < 2^63, alignment <= 2^31
    // A file without tensor data (a vocabulary-only file) may end before the padding.
    for (const TensorInfo& t : f.tensors_) {
      const uint64_t max_end = std::numeric_limits<uint64_t>::max();
      if (t.offset > max_end - f.data_offset_ || t.n_bytes > max_end - f.data_offset_ - t.offset)
        return Status::Corrupt("tensor " + quote(t.name) + ": offset " + std::to_string(t.offset) + " and size " +
                               std::to_string(t.n_bytes) + " reach past the end of the file (" + bytes_str(size_) + ")");
      const uint64_t end = f.data_offset_ + t.offset + t.n_bytes;
      if (end > size_)
        return Status::Corrupt("tensor " + quote(t.name) + ": data ends at byte " + std::to_string(end) +
                               ", past the end of the file (" + bytes_str(size_) + ")");
    }
    std::vector<size_t> order(f.tensors_.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return f.tensors_[a].offset < f.tensors_[b].offset; });
    const TensorInfo* prev = nullptr;
    for (size_t idx : order) {
      const TensorInfo& t = f.tensors_[idx];
      if (t.n_bytes == 0) continue;
      if (prev != nullptr && t.offset < prev->offset + prev->n_bytes)
        return Status::Corrupt("tensors " + quote(prev->name) + " (data bytes " + std::to_string(prev->offset) + " to " +
                               std::to_string(prev->offset + prev->n_bytes) + ") and " + quote(t.name) + " (data bytes " +
                               std::to_string(t.offset) + " to " + std::to_string(t.offset + t.n_bytes) + ") overlap");
      prev = &t;
    }
    return Status::Ok();
  }

  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
  uint64_t n_values_ = 0;
};

Result<std::unique_ptr<File>> File::from_buffer(const uint8_t* data, size_t size, std::string name) {
  std::unique_ptr<File> f(new File());
  f->path_ = std::move(name);
  f->data_ = data;
  f->size_ = size;
  Parser parser(data, size);
  Status s = parser.parse(*f);
  if (!s.ok()) return Status(s.code(), f->path_ + ": " + s.message());
  return f;
}

Result<std::unique_ptr<File>> File::open(const std::string& path, const OpenOptions& opts) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IOError(path + ": cannot open: " + std::strerror(err));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::IOError(path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + ": not a regular file");
  }
  uint64_t reread = 0;
  if (opts.page_cache == PageCache::kDrop) {
    if (Status s = drop_cached_pages(path); !s.ok()) {
      ::close(fd);
      return s;
    }
    reread = static_cast<uint64_t>(st.st_size);
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return Status::IOError(path + ": cannot map " + bytes_str(size) + ": " + std::strerror(err));
    }
    // Decoding streams the weights: 2 MiB pages where the page cache has them (core/huge_pages.h).
    advise_huge_pages(p, size);
    if (opts.page_cache == PageCache::kAuto) {
      const RecacheResult r = recache_in_huge_pages(fd, p, size);
      if (r.what == Recache::kReread) reread = r.reread_bytes;
    }
    data = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping stays valid without the descriptor
  auto f = from_buffer(data, size, path);
  if (!f.ok()) {
    if (data != nullptr) munmap(const_cast<uint8_t*>(data), size);
    return f.status();
  }
  (*f)->owns_mapping_ = data != nullptr;
  (*f)->page_cache_reread_bytes_ = reread;
  return f;
}

File::~File() {
  if (owns_mapping_) munmap(const_cast<uint8_t*>(data_), size_);
}

const Value* File::find(std::string_view key) const {
  for (const auto& kv : metadata_)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

std::span<const uint8_t> File::tensor_data(const TensorInfo& t) const {
  return {data_ + data_offset_ + t.offset, static_cast<size_t>(t.n_bytes)};
}

}  // namespace plumb::gguf
