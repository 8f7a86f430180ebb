// gguf::Writer: collects metadata and tensors in memory and writes them in one pass.
#include <cassert>

#include "gguf/format.h"
#include "gguf/quantize.h"
#include "gguf/serialize.h"
#include "plumb/gguf.h"

namespace plumb::gguf {

struct Writer::Impl {
  std::vector<KeyValue> metadata;
  std::vector<TensorInfo> tensors;
  std::vector<std::vector<uint8_t>> data;  // data[i] belongs to tensors[i]

  bool has_tensor(std::string_view name) const {
    for (const auto& t : tensors)
      if (t.name == name) return true;
    return false;
  }

  Status check_new(const std::string& name, std::span<const int64_t> shape, TensorType type, uint64_t* n_bytes) const {
    if (name.empty()) return Status::InvalidArgument("tensor with an empty name");
    if (has_tensor(name)) return Status::InvalidArgument("tensor " + quote(name) + " was already added");
    auto nb = tensor_nbytes(shape, type);
    if (!nb.ok()) return Status::InvalidArgument("tensor " + quote(name) + ": " + nb.status().message());
    *n_bytes = *nb;
    return Status::Ok();
  }
};

Writer::Writer() : impl_(std::make_unique<Impl>()) {}
Writer::~Writer() = default;

void Writer::set(std::string key, Value value) {
  for (auto& kv : impl_->metadata) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  impl_->metadata.push_back({std::move(key), std::move(value)});
}

Status Writer::add_tensor_f32(std::string name, std::vector<int64_t> shape, TensorType type, std::span<const float> data) {
  uint64_t n_bytes = 0;
  PLUMB_RETURN_IF_ERROR(impl_->check_new(name, shape, type, &n_bytes));
  if (!can_convert(type))
    return Status::Unsupported("tensor " + quote(name) + ": cannot convert F32 to " + std::string(tensor_type_name(type)) +
                               " (supported: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K)");
  TensorInfo t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.type = type;
  t.n_bytes = n_bytes;
  const int64_t n = t.n_elements();
  if (static_cast<uint64_t>(n) != data.size())
    return Status::InvalidArgument("tensor " + quote(t.name) + ": shape holds " + std::to_string(n) + " elements, data has " +
                                   std::to_string(data.size()));
  std::vector<uint8_t> bytes(n_bytes);
  if (n > 0) {
    const int64_t row = t.shape[0];
    const uint64_t row_bytes = n_bytes / static_cast<uint64_t>(n / row);
    for (int64_t r = 0; r < n / row; ++r)
      PLUMB_RETURN_IF_ERROR(quantize_row(type, data.data() + r * row, bytes.data() + r * row_bytes, row));
  }
  impl_->tensors.push_back(std::move(t));
  impl_->data.push_back(std::move(bytes));
  return Status::Ok();
}

Status Writer::add_tensor_raw(std::string name, std::vector<int64_t> shape, TensorType type, std::vector<uint8_t> bytes) {
  uint64_t n_bytes = 0;
  PLUMB_RETURN_IF_ERROR(impl_->check_new(name, shape, type, &n_bytes));
  if (bytes.size() != n_bytes)
    return Status::InvalidArgument("tensor " + quote(name) + ": " + std::string(tensor_type_name(type)) + " shape needs " +
                                   std::to_string(n_bytes) + " bytes, got " + std::to_string(bytes.size()));
  TensorInfo t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.type = type;
  t.n_bytes = n_bytes;
  impl_->tensors.push_back(std::move(t));
  impl_->data.push_back(std::move(bytes));
  return Status::Ok();
}

Status Writer::write(const std::string& path) const {
  std::vector<TensorInfo> infos = impl_->tensors;
  auto header = encode_header(impl_->metadata, infos);
  if (!header.ok()) return header.status().with_context(path);
  PLUMB_ASSIGN_OR_RETURN(const uint64_t alignment, alignment_of(impl_->metadata));
  AtomicFile out;
  PLUMB_RETURN_IF_ERROR(out.open(path));
  PLUMB_RETURN_IF_ERROR(out.write(*header));
  for (size_t i = 0; i < infos.size(); ++i) {
    PLUMB_RETURN_IF_ERROR(out.write(impl_->data[i]));
    PLUMB_RETURN_IF_ERROR(out.write_zeros(padding_after(infos[i].n_bytes, alignment)));
  }
  return out.commit();
}

std::vector<uint8_t> Writer::to_bytes() const {
  std::vector<TensorInfo> infos = impl_->tensors;
  auto header = encode_header(impl_->metadata, infos);
  assert(header.ok() && "Writer::to_bytes on invalid metadata; use write() to get the error");
  if (!header.ok()) return {};
  const uint64_t alignment = alignment_of(impl_->metadata).value_or(kDefaultAlignment);
  std::vector<uint8_t> out = std::move(*header);
  for (size_t i = 0; i < infos.size(); ++i) {
    out.insert(out.end(), impl_->data[i].begin(), impl_->data[i].end());
    out.resize(out.size() + padding_after(infos[i].n_bytes, alignment), 0);
  }
  return out;
}

}  // namespace plumb::gguf
