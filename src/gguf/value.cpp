#include <string>
#include <vector>

#include "plumb/gguf.h"

namespace plumb::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::kUint8: return "u8";
    case ValueType::kInt8: return "i8";
    case ValueType::kUint16: return "u16";
    case ValueType::kInt16: return "i16";
    case ValueType::kUint32: return "u32";
    case ValueType::kInt32: return "i32";
    case ValueType::kFloat32: return "f32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "string";
    case ValueType::kArray: return "array";
    case ValueType::kUint64: return "u64";
    case ValueType::kInt64: return "i64";
    case ValueType::kFloat64: return "f64";
  }
  return "unknown";
}

Value Value::u32(uint32_t v) {
  Value r;
  r.type = ValueType::kUint32;
  r.u = v;
  return r;
}

Value Value::i32(int32_t v) {
  Value r;
  r.type = ValueType::kInt32;
  r.i = v;
  return r;
}

Value Value::u64(uint64_t v) {
  Value r;
  r.type = ValueType::kUint64;
  r.u = v;
  return r;
}

Value Value::f32(float v) {
  Value r;
  r.type = ValueType::kFloat32;
  r.f = v;
  return r;
}

Value Value::boolean(bool v) {
  Value r;
  r.type = ValueType::kBool;
  r.u = v ? 1 : 0;
  return r;
}

Value Value::string(std::string v) {
  Value r;
  r.type = ValueType::kString;
  r.str = std::move(v);
  return r;
}

Value Value::string_array(const std::vector<std::string>& v) {
  Value r;
  r.type = ValueType::kArray;
  r.array_type = ValueType::kString;
  r.array.reserve(v.size());
  for (const auto& s : v) r.array.push_back(string(s));
  return r;
}

Value Value::f32_array(const std::vector<float>& v) {
  Value r;
  r.type = ValueType::kArray;
  r.array_type = ValueType::kFloat32;
  r.array.reserve(v.size());
  for (float x : v) r.array.push_back(f32(x));
  return r;
}

Value Value::i32_array(const std::vector<int32_t>& v) {
  Value r;
  r.type = ValueType::kArray;
  r.array_type = ValueType::kInt32;
  r.array.reserve(v.size());
  for (int32_t x : v) r.array.push_back(i32(x));
  return r;
}

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // the reader and writer reject shapes whose product overflows
  return n;
}

}  // namespace plumb::gguf
