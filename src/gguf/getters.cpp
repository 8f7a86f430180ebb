// Typed metadata getters of gguf::File.
#include <limits>

#include "gguf/format.h"
#include "plumb/gguf.h"

namespace plumb::gguf {

namespace {

bool is_unsigned(ValueType t) {
  return t == ValueType::kUint8 || t == ValueType::kUint16 || t == ValueType::kUint32 || t == ValueType::kUint64;
}
bool is_signed(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 || t == ValueType::kInt64;
}
bool is_float(ValueType t) { return t == ValueType::kFloat32 || t == ValueType::kFloat64; }

std::string type_desc(const Value& v) {
  if (v.type == ValueType::kArray) return "array of " + std::string(value_type_name(v.array_type));
  return std::string(value_type_name(v.type));
}

Result<int64_t> as_int(const Value& v) {
  if (is_signed(v.type)) return v.i;
  if (is_unsigned(v.type)) {
    if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return Status::InvalidArgument("value " + std::to_string(v.u) + " does not fit in a signed 64-bit integer");
    return static_cast<int64_t>(v.u);
  }
  return Status::InvalidArgument("expected an integer, found " + type_desc(v));
}

Result<double> as_float(const Value& v) {
  if (is_float(v.type)) return v.f;
  if (is_signed(v.type)) return static_cast<double>(v.i);
  if (is_unsigned(v.type)) return static_cast<double>(v.u);
  return Status::InvalidArgument("expected a number, found " + type_desc(v));
}

}  // namespace

// Each getter looks the key up, converts, and prefixes any failure with "FILE: key 'K'".
#define PLUMB_GGUF_LOOKUP(v, key)                                                                  \
  const Value* v = find(key);                                                                       \
  if (v == nullptr) return Status::NotFound(path_ + ": key " + quote(key) + " is absent");          \
  const std::string ctx_ = path_ + ": key " + quote(key)

Result<std::string> File::get_string(std::string_view key) const {
  PLUMB_GGUF_LOOKUP(v, key);
  if (v->type != ValueType::kString) return Status::InvalidArgument(ctx_ + ": expected a string, found " + type_desc(*v));
  return v->str;
}

Result<int64_t> File::get_int(std::string_view key) const {
  PLUMB_GGUF_LOOKUP(v, key);
  auto r = as_int(*v);
  if (!r.ok()) return r.status().with_context(ctx_);
  return r;
}

Result<double> File::get_float(std::string_view key) const {
  PLUMB_GGUF_LOOKUP(v, key);
  auto r = as_float(*v);
  if (!r.ok()) return r.status().with_context(ctx_);
  return r;
}

Result<bool> File::get_bool(std::string_view key) const {
  PLUMB_GGUF_LOOKUP(v, key);
  if (v->type != ValueType::kBool) return Status::InvalidArgument(ctx_ + ": expected a bool, found " + type_desc(*v));
  return v->u != 0;
}

Result<std::vector<std::string>> File::get_string_array(std::string_view key) const {
  PLUMB_GGUF_LOOKUP(v, key);
  if (v->type != ValueType::kArray || v->array_type != ValueType::kString)
    return Status::InvalidArgument(ctx_ + ": expected an array of strings, found " + type_desc(*v));
  std::vector<std::string> out;
  out.reserve(v->array.size());
  for (const Value& e : v->array) out.push_back(e.str);
  return out;
}

Result<std::vector<float>> File::get_float_array(std::string_view key) const {
  PLUMB_GGUF_LOOKUP(v, key);
  if (v->type != ValueType::kArray || v->array_type == ValueType::kArray || v->array_type == ValueType::kString ||
      v->array_type == ValueType::kBool)
    return Status::InvalidArgument(ctx_ + ": expected an array of numbers, found " + type_desc(*v));
  std::vector<float> out;
  out.reserve(v->array.size());
  for (const Value& e : v->array) out.push_back(static_cast<float>(*as_float(e)));
  return out;
}

Result<std::vector<int64_t>> File::get_int_array(std::string_view key) const {
  PLUMB_GGUF_LOOKUP(v, key);
  if (v->type != ValueType::kArray || !(is_signed(v->array_type) || is_unsigned(v->array_type)))
    return Status::InvalidArgument(ctx_ + ": expected an array of integers, found " + type_desc(*v));
  std::vector<int64_t> out;
  out.reserve(v->array.size());
  for (size_t k = 0; k < v->array.size(); ++k) {
    auto r = as_int(v->array[k]);
    if (!r.ok()) return r.status().with_context(ctx_ + ": element " + std::to_string(k));
    out.push_back(*r);
  }
  return out;
}

#undef PLUMB_GGUF_LOOKUP

}  // namespace plumb::gguf
