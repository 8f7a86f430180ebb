// Writer -> reader round trips: every value type (nested arrays included) and every
// tensor type the writer produces come back bit-identical.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "gguf/quantize.h"
#include "plumb/gguf.h"
#include "support/test_support.h"

namespace plumb::gguf {
namespace {

Value make(ValueType t) {
  Value v;
  v.type = t;
  return v;
}

Value nested_array() {
  // [[1, 2], [], [3]] as arrays of i16, inside an array of arrays.
  Value outer = make(ValueType::kArray);
  outer.array_type = ValueType::kArray;
  for (const std::vector<int64_t>& xs : std::vector<std::vector<int64_t>>{{1, 2}, {}, {-3}}) {
    Value inner = make(ValueType::kArray);
    inner.array_type = ValueType::kInt16;
    for (int64_t x : xs) {
      Value e = make(ValueType::kInt16);
      e.i = x;
      inner.array.push_back(e);
    }
    outer.array.push_back(inner);
  }
  return outer;
}

std::vector<KeyValue> every_value_type() {
  std::vector<KeyValue> kvs;
  auto add = [&](std::string key, Value v) { kvs.push_back({std::move(key), std::move(v)}); };
  Value v;
  v = make(ValueType::kUint8); v.u = 255; add("t.u8", v);
  v = make(ValueType::kInt8); v.i = -128; add("t.i8", v);
  v = make(ValueType::kUint16); v.u = 65535; add("t.u16", v);
  v = make(ValueType::kInt16); v.i = -32768; add("t.i16", v);
  add("t.u32", Value::u32(4000000000u));
  add("t.i32", Value::i32(-2000000000));
  add("t.u64", Value::u64(std::numeric_limits<uint64_t>::max()));
  v = make(ValueType::kInt64); v.i = std::numeric_limits<int64_t>::min(); add("t.i64", v);
  add("t.f32", Value::f32(-1.5e-7f));
  v = make(ValueType::kFloat64); v.f = 3.141592653589793; add("t.f64", v);
  add("t.bool_true", Value::boolean(true));
  add("t.bool_false", Value::boolean(false));
  add("t.string", Value::string("héllo ▁wörld \xF0\x9F\x98\x80"));
  add("t.empty_string", Value::string(""));
  add("t.strings", Value::string_array({"<unk>", "", "▁a"}));
  add("t.floats", Value::f32_array({0.0f, -2.5f, std::numeric_limits<float>::infinity()}));
  add("t.ints", Value::i32_array({1, -1, 2147483647}));
  add("t.nested", nested_array());
  Value empty = make(ValueType::kArray);
  empty.array_type = ValueType::kFloat64;
  add("t.empty_array", empty);
  return kvs;
}

void expect_same(const Value& a, const Value& b, const std::string& where) {
  ASSERT_EQ(a.type, b.type) << where;
  switch (a.type) {
    case ValueType::kString: EXPECT_EQ(a.str, b.str) << where; break;
    case ValueType::kArray:
      ASSERT_EQ(a.array_type, b.array_type) << where;
      ASSERT_EQ(a.array.size(), b.array.size()) << where;
      for (size_t i = 0; i < a.array.size(); ++i) expect_same(a.array[i], b.array[i], where + "[" + std::to_string(i) + "]");
      break;
    case ValueType::kFloat32:
    case ValueType::kFloat64: EXPECT_EQ(std::memcmp(&a.f, &b.f, sizeof a.f), 0) << where; break;
    default:
      EXPECT_EQ(a.u, b.u) << where;
      EXPECT_EQ(a.i, b.i) << where;
  }
}

TEST(GgufRoundTrip, EveryValueType) {
  Writer w;
  const auto kvs = every_value_type();
  for (const auto& kv : kvs) w.set(kv.key, kv.value);
  const std::vector<uint8_t> bytes = w.to_bytes();
  auto f = File::from_buffer(bytes.data(), bytes.size(), "mem.gguf");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->version(), 3u);
  ASSERT_EQ((*f)->metadata().size(), kvs.size());
  for (size_t i = 0; i < kvs.size(); ++i) {
    EXPECT_EQ((*f)->metadata()[i].key, kvs[i].key);
    expect_same((*f)->metadata()[i].value, kvs[i].value, kvs[i].key);
  }
  // Re-encoding what was read gives the same bytes.
  Writer w2;
  for (const auto& kv : (*f)->metadata()) w2.set(kv.key, kv.value);
  EXPECT_EQ(w2.to_bytes(), bytes);
}

TEST(GgufRoundTrip, TypedGetters) {
  Writer w;
  for (const auto& kv : every_value_type()) w.set(kv.key, kv.value);
  const auto bytes = w.to_bytes();
  auto f = File::from_buffer(bytes.data(), bytes.size(), "mem.gguf");
  ASSERT_TRUE(f.ok());
  const File& file = **f;
  EXPECT_EQ(*file.get_int("t.u16"), 65535);
  EXPECT_EQ(*file.get_int("t.i8"), -128);
  EXPECT_EQ(*file.get_float("t.f64"), 3.141592653589793);
  EXPECT_EQ(*file.get_float("t.u32"), 4000000000.0);
  EXPECT_EQ(*file.get_bool("t.bool_true"), true);
  EXPECT_EQ(*file.get_string("t.empty_string"), "");
  EXPECT_EQ(*file.get_string_array("t.strings"), (std::vector<std::string>{"<unk>", "", "▁a"}));
  EXPECT_EQ(*file.get_int_array("t.ints"), (std::vector<int64_t>{1, -1, 2147483647}));
  EXPECT_EQ(file.get_float_array("t.floats")->at(1), -2.5f);
  // Errors name the file, the key and what was found.
  EXPECT_EQ(file.get_int("t.u64").status().message(),
            "mem.gguf: key 't.u64': value 18446744073709551615 does not fit in a signed 64-bit integer");
  EXPECT_EQ(file.get_string("t.u8").status().message(), "mem.gguf: key 't.u8': expected a string, found u8");
  EXPECT_EQ(file.get_int("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(file.get_int("nope").status().message(), "mem.gguf: key 'nope' is absent");
  EXPECT_EQ(file.get_int_array("t.strings").status().message(),
            "mem.gguf: key 't.strings': expected an array of integers, found array of string");
}

std::vector<float> ramp(size_t n) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = std::sin(static_cast<float>(i) * 0.37f) * (1.0f + static_cast<float>(i % 7));
  return x;
}

TEST(GgufRoundTrip, TensorsEveryWritableTypeToFile) {
  test::TempDir dir;
  Writer w;
  w.set("general.architecture", Value::string("llama"));
  w.set("general.alignment", Value::u32(64));
  const auto x = ramp(64 * 3);
  const TensorType types[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16, TensorType::kQ8_0,
                              TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1};
  for (TensorType t : types)
    ASSERT_TRUE(w.add_tensor_f32("t." + std::string(tensor_type_name(t)), {64, 3}, t, x).ok());
  std::vector<uint8_t> raw(7 * 2);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i * 13);
  ASSERT_TRUE(w.add_tensor_raw("raw.i16", {7}, TensorType::kI16, raw).ok());
  const std::string path = dir.file("t.gguf");
  ASSERT_TRUE(w.write(path).ok());
  EXPECT_EQ(test::read_file(path), std::string(reinterpret_cast<const char*>(w.to_bytes().data()), w.to_bytes().size()));

  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const File& file = **f;
  EXPECT_EQ(file.alignment(), 64u);
  EXPECT_EQ(file.data_offset() % 64, 0u);
  ASSERT_EQ(file.tensors().size(), 9u);
  for (TensorType t : types) {
    const TensorInfo* ti = file.find_tensor("t." + std::string(tensor_type_name(t)));
    ASSERT_NE(ti, nullptr);
    EXPECT_EQ(ti->type, t);
    EXPECT_EQ(ti->shape, (std::vector<int64_t>{64, 3}));
    EXPECT_EQ(ti->offset % 64, 0u);
    // Bytes are what quantize_row produces, row by row.
    const size_t row_bytes = ti->n_bytes / 3;
    std::vector<uint8_t> expect(ti->n_bytes);
    for (int r = 0; r < 3; ++r) ASSERT_TRUE(quantize_row(t, x.data() + r * 64, expect.data() + r * row_bytes, 64).ok());
    auto got = file.tensor_data(*ti);
    EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.end()), expect) << tensor_type_name(t);
  }
  auto got = file.tensor_data(*file.find_tensor("raw.i16"));
  EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.end()), raw);
  EXPECT_EQ(file.find_tensor("absent"), nullptr);
}

TEST(GgufWriter, RejectsBadTensors) {
  Writer w;
  std::vector<float> x(40);
  EXPECT_EQ(w.add_tensor_f32("a", {40}, TensorType::kQ8_0, x).message(),
            "tensor 'a': row length 40 is not a multiple of q8_0's block size 32");
  EXPECT_EQ(w.add_tensor_f32("a", {4, 4}, TensorType::kF32, x).message(), "tensor 'a': shape holds 16 elements, data has 40");
  std::vector<float> y(256);
  EXPECT_EQ(w.add_tensor_f32("a", {256}, TensorType::kQ2_K, y).message(),
            "tensor 'a': cannot convert F32 to q2_K (supported: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, "
            "q5_K, q6_K)");
  ASSERT_TRUE(w.add_tensor_f32("a", {40}, TensorType::kF32, x).ok());
  EXPECT_EQ(w.add_tensor_f32("a", {40}, TensorType::kF32, x).message(), "tensor 'a' was already added");
  EXPECT_EQ(w.add_tensor_raw("b", {3}, TensorType::kF16, std::vector<uint8_t>(5)).message(),
            "tensor 'b': f16 shape needs 6 bytes, got 5");
  w.set("general.alignment", Value::u32(48));
  test::TempDir dir;
  EXPECT_EQ(w.write(dir.file("x.gguf")).message(),
            dir.file("x.gguf") + ": key 'general.alignment': 48 is not a power of two between 1 and 2^31");
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.gguf")));
}

}  // namespace
}  // namespace plumb::gguf
