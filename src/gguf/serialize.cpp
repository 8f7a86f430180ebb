#include "gguf/serialize.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "gguf/format.h"

namespace plumb::gguf {

namespace {

class Encoder {
 public:
  explicit Encoder(std::vector<uint8_t>& out) : out_(out) {}

  template <typename T>
  void put(T v) {
    const size_t at = out_.size();
    out_.resize(at + sizeof(T));
    std::memcpy(out_.data() + at, &v, sizeof(T));
  }

  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }

  Status put_value(const Value& v, int depth) {
    auto range = [&](bool ok) {
      return ok ? Status::Ok()
                : Status::InvalidArgument(std::string(value_type_name(v.type)) + " value out of range");
    };
    switch (v.type) {
      case ValueType::kUint8: PLUMB_RETURN_IF_ERROR(range(v.u <= 0xff)); put<uint8_t>(v.u); break;
      case ValueType::kInt8: PLUMB_RETURN_IF_ERROR(range(v.i >= -128 && v.i <= 127)); put<int8_t>(v.i); break;
      case ValueType::kUint16: PLUMB_RETURN_IF_ERROR(range(v.u <= 0xffff)); put<uint16_t>(v.u); break;
      case ValueType::kInt16: PLUMB_RETURN_IF_ERROR(range(v.i >= -32768 && v.i <= 32767)); put<int16_t>(v.i); break;
      case ValueType::kUint32: PLUMB_RETURN_IF_ERROR(range(v.u <= 0xffffffffu)); put<uint32_t>(v.u); break;
      case ValueType::kInt32:
        PLUMB_RETURN_IF_ERROR(range(v.i >= std::numeric_limits<int32_t>::min() && v.i <= std::numeric_limits<int32_t>::max()));
        put<int32_t>(v.i);
        break;
      case ValueType::kUint64: put<uint64_t>(v.u); break;
      case ValueType::kInt64: put<int64_t>(v.i); break;
      case ValueType::kFloat32: put<float>(static_cast<float>(v.f)); break;
      case ValueType::kFloat64: put<double>(v.f); break;
      case ValueType::kBool: PLUMB_RETURN_IF_ERROR(range(v.u <= 1)); put<uint8_t>(v.u); break;
      case ValueType::kString:
        if (!is_valid_utf8(v.str)) return Status::InvalidArgument("string " + quote(v.str) + " is not valid UTF-8");
        put_string(v.str);
        break;
      case ValueType::kArray: {
        if (depth + 1 > kMaxArrayDepth)
          return Status::InvalidArgument("arrays nested more than " + std::to_string(kMaxArrayDepth) + " deep");
        if (static_cast<uint32_t>(v.array_type) > static_cast<uint32_t>(ValueType::kFloat64))
          return Status::InvalidArgument("unknown array element type " + std::to_string(static_cast<uint32_t>(v.array_type)));
        put<uint32_t>(static_cast<uint32_t>(v.array_type));
        put<uint64_t>(v.array.size());
        for (size_t k = 0; k < v.array.size(); ++k) {
          const Value& e = v.array[k];
          if (e.type != v.array_type)
            return Status::InvalidArgument("array element " + std::to_string(k) + " is " +
                                           std::string(value_type_name(e.type)) + ", expected " +
                                           std::string(value_type_name(v.array_type)));
          Status s = put_value(e, depth + 1);
          if (!s.ok()) return s.with_context("array element " + std::to_string(k));
        }
        break;
      }
      default:
        return Status::InvalidArgument("unknown value type " + std::to_string(static_cast<uint32_t>(v.type)));
    }
    return Status::Ok();
  }

 private:
  std::vector<uint8_t>& out_;
};

}  // namespace

Result<uint64_t> alignment_of(const std::vector<KeyValue>& metadata) {
  for (const auto& kv : metadata) {
    if (kv.key != kAlignmentKey) continue;
    const Value& v = kv.value;
    uint64_t a = 0;
    if (v.type == ValueType::kUint8 || v.type == ValueType::kUint16 || v.type == ValueType::kUint32 ||
        v.type == ValueType::kUint64)
      a = v.u;
    else if (v.type == ValueType::kInt8 || v.type == ValueType::kInt16 || v.type == ValueType::kInt32 ||
             v.type == ValueType::kInt64)
      a = v.i < 0 ? 0 : static_cast<uint64_t>(v.i);
    else
      return Status::InvalidArgument("key 'general.alignment': expected an integer, found " +
                                     std::string(value_type_name(v.type)));
    if (!is_power_of_two(a) || a > (uint64_t{1} << 31))
      return Status::InvalidArgument("key 'general.alignment': " + std::to_string(a) +
                                     " is not a power of two between 1 and 2^31");
    return a;
  }
  return kDefaultAlignment;
}

Result<std::vector<uint8_t>> encode_header(const std::vector<KeyValue>& metadata, std::vector<TensorInfo>& tensors) {
  PLUMB_ASSIGN_OR_RETURN(const uint64_t alignment, alignment_of(metadata));
  std::vector<uint8_t> out;
  Encoder enc(out);
  for (char c : kMagic) enc.put<char>(c);
  enc.put<uint32_t>(kWriteVersion);
  enc.put<uint64_t>(tensors.size());
  enc.put<uint64_t>(metadata.size());
  std::unordered_set<std::string_view> keys;
  for (const auto& kv : metadata) {
    if (kv.key.empty()) return Status::InvalidArgument("empty metadata key");
    if (!is_valid_utf8(kv.key)) return Status::InvalidArgument("key " + quote(kv.key) + " is not valid UTF-8");
    if (!keys.insert(kv.key).second) return Status::InvalidArgument("duplicate key " + quote(kv.key));
    enc.put_string(kv.key);
    enc.put<uint32_t>(static_cast<uint32_t>(kv.value.type));
    Status s = enc.put_value(kv.value, 0);
    if (!s.ok()) return s.with_context("key " + quote(kv.key));
  }
  std::unordered_set<std::string_view> names;
  uint64_t offset = 0;
  for (auto& t : tensors) {
    if (t.name.empty()) return Status::InvalidArgument("empty tensor name");
    if (!is_valid_utf8(t.name)) return Status::InvalidArgument("tensor name " + quote(t.name) + " is not valid UTF-8");
    if (!names.insert(t.name).second) return Status::InvalidArgument("duplicate tensor name " + quote(t.name));
    auto nbytes = tensor_nbytes(t.shape, t.type);
    if (!nbytes.ok()) return Status::InvalidArgument("tensor " + quote(t.name) + ": " + nbytes.status().message());
    t.n_bytes = *nbytes;
    t.offset = offset;
    offset = align_up(offset + t.n_bytes, alignment);
    enc.put_string(t.name);
    enc.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) enc.put<uint64_t>(static_cast<uint64_t>(d));
    enc.put<uint32_t>(static_cast<uint32_t>(t.type));
    enc.put<uint64_t>(t.offset);
  }
  out.resize(align_up(out.size(), alignment), 0);
  return out;
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) {
    std::fclose(file_);
    ::unlink(tmp_path_.c_str());
  }
}

Status AtomicFile::open(const std::string& path) {
  path_ = path;
  tmp_path_ = path + ".tmp-" + std::to_string(::getpid());
  file_ = std::fopen(tmp_path_.c_str(), "wb");
  if (file_ == nullptr) return Status::IOError(path + ": cannot create " + tmp_path_ + ": " + std::strerror(errno));
  // Writes of whole, aligned 2 MiB let the page cache keep the new file in 2 MiB folios where the
  // filesystem has large folios, so the first load decodes from 2 MiB pages (core/huge_pages.h);
  // glibc's default buffer (st_blksize, 4 KiB) leaves it in 4 KiB pages.
  constexpr size_t kBuffer = size_t{2} << 20;
  buffer_ = std::make_unique<char[]>(kBuffer);
  std::setvbuf(file_, buffer_.get(), _IOFBF, kBuffer);
  return Status::Ok();
}

Status AtomicFile::write(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return Status::Ok();
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size())
    return Status::IOError(path_ + ": write failed: " + std::strerror(errno));
  return Status::Ok();
}

Status AtomicFile::write_zeros(uint64_t n) {
  static const uint8_t kZeros[4096] = {};
  while (n > 0) {
    const uint64_t k = std::min<uint64_t>(n, sizeof kZeros);
    PLUMB_RETURN_IF_ERROR(write({kZeros, static_cast<size_t>(k)}));
    n -= k;
  }
  return Status::Ok();
}

Status AtomicFile::commit() {
  // Checking fclose matters: buffered data is flushed there, and a full disk shows up here.
  const bool ok = std::fflush(file_) == 0;
  const int err = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!ok || !closed) {
    ::unlink(tmp_path_.c_str());
    return Status::IOError(path_ + ": write failed: " + std::strerror(ok ? errno : err));
  }
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp_path_.c_str());
    return Status::IOError(path_ + ": cannot rename " + tmp_path_ + " into place: " + std::strerror(e));
  }
  return Status::Ok();
}

}  // namespace plumb::gguf
