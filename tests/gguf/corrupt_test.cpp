// Hostile and broken GGUF files: each handcrafted corruption gives its own clear error,
// every truncated prefix of a valid file fails cleanly, and random byte damage never crashes.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gguf/synth.h"
#include "plumb/gguf.h"
#include "support/test_support.h"

namespace plumb::gguf {
namespace {

// Byte-level GGUF builder, independent of gguf::Writer so that the tests do not share its bugs.
struct Bytes {
  std::vector<uint8_t> b;
  Bytes& raw(std::string_view s) { b.insert(b.end(), s.begin(), s.end()); return *this; }
  template <typename T>
  Bytes& put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
    return *this;
  }
  Bytes& u32(uint32_t v) { return put(v); }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& str(std::string_view s) { u64(s.size()); return raw(s); }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) { raw("GGUF"); u32(version); u64(n_tensors); return u64(n_kv); }
  Bytes& kv_str(std::string_view k, std::string_view v) { str(k); u32(8); return str(v); }
  Bytes& kv_u32(std::string_view k, uint32_t v) { str(k); u32(4); return u32(v); }
  Bytes& tensor(std::string_view name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name);
    u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) u64(d);
    u32(type);
    return u64(offset);
  }
  Bytes& pad(size_t alignment = 32) { b.resize((b.size() + alignment - 1) / alignment * alignment, 0); return *this; }
  Bytes& zeros(size_t n) { b.resize(b.size() + n, 0); return *this; }
};

Status parse(const Bytes& x) {
  auto f = File::from_buffer(x.b.data(), x.b.size(), "f.gguf");
  return f.ok() ? Status::Ok() : f.status();
}

// A valid file: one key, one 32-element F32 tensor.
Bytes valid() { return Bytes().header(1, 1).kv_str("general.architecture", "llama").tensor("w", {32}, 0, 0).pad().zeros(128); }

struct Case {
  const char* name;
  Bytes bytes;
  const char* message;  // full expected message
};

std::vector<Case> cases() {
  const uint64_t kHuge = uint64_t{1} << 62;
  std::vector<Case> c;
  c.push_back({"empty file", Bytes(), "f.gguf: file is 0 bytes, too short for a GGUF file (magic 'GGUF' expected)"});
  c.push_back({"bad magic", Bytes().raw("GGML").u32(3).u64(0).u64(0),
               "f.gguf: invalid magic 'GGML', expected 'GGUF' (not a GGUF file)"});
  c.push_back({"binary magic", Bytes().raw(std::string_view("\x7f" "ELF", 4)).u32(3).u64(0).u64(0),
               "f.gguf: invalid magic '\\x7fELF', expected 'GGUF' (not a GGUF file)"});
  c.push_back({"version 1", Bytes().header(0, 0, 1),
               "f.gguf: GGUF version 1 (an obsolete format) is not supported, expected version 2 or 3"});
  c.push_back({"version 4", Bytes().header(0, 0, 4), "f.gguf: unsupported GGUF version 4, expected 2 or 3"});
  c.push_back({"big-endian", Bytes().header(0, 0, 0x03000000),
               "f.gguf: unsupported GGUF version 50331648, expected 2 or 3 (this looks like a big-endian file, which plumb does not read)"});
  c.push_back({"truncated header", Bytes().raw("GGUF").u32(3).u32(0),
               "f.gguf: file truncated: tensor count needs 8 bytes at byte 8, but the file ends at byte 12"});
  c.push_back({"string length past end", Bytes().header(0, 1).u64(1000).raw("general.name"),
               "f.gguf: metadata entry #0: key: string length 1000 at byte 24 exceeds the remaining 12 bytes"});
  c.push_back({"value string past end", Bytes().header(0, 1).str("general.name").u32(8).u64(kHuge).raw("abc"),
               "f.gguf: key 'general.name': string: string length 4611686018427387904 at byte 48 exceeds the remaining 3 bytes"});
  c.push_back({"kv count absurd", Bytes().header(0, kHuge).kv_str("a", "b"),
               "f.gguf: metadata key/value count 4611686018427387904 is impossible: the remaining 22 bytes hold at most 1 entries"});
  c.push_back({"tensor count absurd", Bytes().header(kHuge, 0).tensor("w", {32}, 0, 0),
               "f.gguf: tensor count 4611686018427387904 is impossible: the remaining 33 bytes hold at most 1 tensor infos"});
  c.push_back({"array count absurd", Bytes().header(0, 1).str("k").u32(9).u32(4).u64(kHuge).u32(7),
               "f.gguf: key 'k': array of 4611686018427387904 u32 elements needs at least 2^64 bytes, but only 4 bytes remain"});
  c.push_back({"array count too big", Bytes().header(0, 1).str("k").u32(9).u32(8).u64(3).str("a").str("b"),
               "f.gguf: key 'k': array of 3 string elements needs at least 24 bytes, but only 18 bytes remain"});
  c.push_back({"too many metadata values", Bytes().header(0, 1).str("k").u32(9).u32(0).u64(uint64_t{1} << 22).zeros(size_t{1} << 22),
               "f.gguf: key 'k': metadata holds more than 4194304 values (array elements included); refusing to load it"});
  c.push_back({"duplicate key", Bytes().header(0, 2).kv_u32("a.b", 1).kv_u32("a.b", 2),
               "f.gguf: duplicate key 'a.b' (metadata entries #0 and #1)"});
  c.push_back({"empty key", Bytes().header(0, 1).kv_u32("", 1), "f.gguf: metadata entry #0: empty key"});
  c.push_back({"invalid UTF-8 key", Bytes().header(0, 1).kv_u32("a\xff\xfe", 1),
               "f.gguf: metadata entry #0: key 'a\\xff\\xfe' is not valid UTF-8"});
  c.push_back({"overlong UTF-8 string", Bytes().header(0, 1).kv_str("k", "\xc0\xaf"),
               "f.gguf: key 'k': string '\\xc0\\xaf' is not valid UTF-8"});
  c.push_back({"surrogate in string", Bytes().header(0, 1).kv_str("k", "\xed\xa0\x80"),
               "f.gguf: key 'k': string '\\xed\\xa0\\x80' is not valid UTF-8"});
  c.push_back({"unknown value type", Bytes().header(0, 1).str("k").u32(13).u32(0),
               "f.gguf: key 'k': unknown value type id 13 (expected 0 to 12)"});
  c.push_back({"unknown array element type", Bytes().header(0, 1).str("k").u32(9).u32(99).u64(0),
               "f.gguf: key 'k': array has unknown element type id 99 (expected 0 to 12)"});
  c.push_back({"bad bool", Bytes().header(0, 1).str("k").u32(7).put<uint8_t>(2),
               "f.gguf: key 'k': bool value at byte 37 is 2, expected 0 or 1"});
  {
    Bytes deep = Bytes().header(0, 1).str("k").u32(9);
    for (int i = 0; i < 9; ++i) deep.u32(9).u64(1);
    c.push_back({"arrays nested too deep", deep,
                 "f.gguf: key 'k': array element 0: array element 0: array element 0: array element 0: array element 0: "
                 "array element 0: array element 0: array element 0: arrays nested more than 8 deep"});
  }
  c.push_back({"alignment not a power of two", Bytes().header(0, 1).kv_u32("general.alignment", 48),
               "f.gguf: key 'general.alignment': alignment 48 is not a power of two between 1 and 2^31"});
  c.push_back({"alignment zero", Bytes().header(0, 1).kv_u32("general.alignment", 0),
               "f.gguf: key 'general.alignment': alignment 0 is not a power of two between 1 and 2^31"});
  c.push_back({"alignment a string", Bytes().header(0, 1).kv_str("general.alignment", "32"),
               "f.gguf: key 'general.alignment': expected an integer (u32), found string"});
  c.push_back({"duplicate tensor name", Bytes().header(2, 0).tensor("w", {32}, 0, 0).tensor("w", {32}, 0, 128).pad().zeros(256),
               "f.gguf: duplicate tensor name 'w' (tensors #0 and #1)"});
  c.push_back({"invalid UTF-8 tensor name", Bytes().header(1, 0).tensor("w\x80", {32}, 0, 0).pad().zeros(128),
               "f.gguf: tensor #0: name 'w\\x80' is not valid UTF-8"});
  c.push_back({"n_dims 0", Bytes().header(1, 0).tensor("w", {}, 0, 0).u64(0).pad().zeros(128),
               "f.gguf: tensor 'w': n_dims is 0, expected 1 to 4"});
  c.push_back({"n_dims 5", Bytes().header(1, 0).tensor("w", {1, 1, 1, 1, 1}, 0, 0).pad().zeros(128),
               "f.gguf: tensor 'w': n_dims is 5, expected 1 to 4"});
  c.push_back({"dims overflow", Bytes().header(1, 0).tensor("w", {kHuge, 4}, 0, 0).pad().zeros(128),
               "f.gguf: tensor 'w': element count overflows (dimension 1 is 4)"});
  c.push_back({"dimension past int64", Bytes().header(1, 0).tensor("w", {32, ~uint64_t{0}}, 0, 0).pad().zeros(128),
               "f.gguf: tensor 'w': dimension 1 is 18446744073709551615, too large"});
  c.push_back({"bytes overflow", Bytes().header(1, 0).tensor("w", {uint64_t{1} << 61, 2}, 28, 0).pad().zeros(128),
               "f.gguf: tensor 'w': byte size overflows"});
  c.push_back({"unknown tensor type", Bytes().header(1, 0).tensor("blk.0.attn_q.weight", {32}, 31, 0).pad().zeros(128),
               "f.gguf: tensor 'blk.0.attn_q.weight': unknown tensor type id 31"});
  c.push_back({"row not a multiple of the block", Bytes().header(1, 0).tensor("w", {16, 2}, 8, 0).pad().zeros(128),
               "f.gguf: tensor 'w': row length 16 is not a multiple of q8_0's block size 32"});
  c.push_back({"tensor data past end", Bytes().header(1, 0).tensor("blk.0.attn_q.weight", {64, 64}, 0, 0).pad().zeros(100),
               "f.gguf: tensor 'blk.0.attn_q.weight': data ends at byte 16480, past the end of the file (196 bytes)"});
  c.push_back({"tensor offset huge", Bytes().header(1, 0).tensor("w", {32}, 0, ~uint64_t{0} - 31).pad().zeros(128),
               "f.gguf: tensor 'w': offset 18446744073709551584 and size 128 reach past the end of the file (192 bytes)"});
  c.push_back({"overlapping tensors", Bytes().header(2, 0).tensor("a", {32}, 0, 0).tensor("b", {32}, 0, 64).pad().zeros(256),
               "f.gguf: tensors 'a' (data bytes 0 to 128) and 'b' (data bytes 64 to 192) overlap"});
  c.push_back({"misaligned offset", Bytes().header(1, 0).tensor("w", {32}, 0, 16).pad().zeros(256),
               "f.gguf: tensor 'w': offset 16 is not a multiple of the alignment (32)"});
  c.push_back({"misaligned with custom alignment",
               Bytes().header(1, 1).kv_u32("general.alignment", 64).tensor("w", {32}, 0, 32).pad(64).zeros(256),
               "f.gguf: tensor 'w': offset 32 is not a multiple of the alignment (64)"});
  c.push_back({"truncated tensor info", Bytes().header(1, 0).str("weight.name.long").u32(2).u64(32),
               "f.gguf: tensor 'weight.name.long': file truncated: dimension needs 8 bytes at byte 60, but the file ends at byte 60"});
  return c;
}

TEST(GgufCorrupt, HandcraftedFilesGiveTheirOwnMessage) {
  ASSERT_TRUE(parse(valid()).ok()) << parse(valid()).to_string();
  for (const Case& c : cases()) {
    const Status s = parse(c.bytes);
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_EQ(s.message(), c.message) << c.name;
    const StatusCode expected = std::string(c.name) == "version 1" ? StatusCode::kUnsupported : StatusCode::kCorrupt;
    EXPECT_EQ(s.code(), expected) << c.name;
  }
}

TEST(GgufCorrupt, KnownTypesPlumbCannotComputeAreListed) {
  // q4_K (id 12) and iq2_xxs (16): 256-element blocks of 144 and 66 bytes.
  Bytes x = Bytes().header(2, 0).tensor("k", {256, 2}, 12, 0).tensor("i", {512}, 16, 288).pad();
  x.zeros(288 + 132);
  auto f = File::from_buffer(x.b.data(), x.b.size(), "f.gguf");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->tensors()[0].n_bytes, 288u);
  EXPECT_EQ((*f)->tensors()[1].n_bytes, 132u);
  EXPECT_EQ(tensor_type_name((*f)->tensors()[1].type), "iq2_xxs");
}

TEST(GgufCorrupt, VocabularyOnlyFileMayEndBeforeThePadding) {
  Bytes x = Bytes().header(0, 1, 2).kv_str("tokenizer.ggml.model", "llama");  // 69 bytes, version 2
  auto f = File::from_buffer(x.b.data(), x.b.size(), "f.gguf");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->version(), 2u);
  EXPECT_EQ((*f)->data_offset(), 96u);
}

TEST(GgufCorrupt, ZeroSizedTensorsDoNotOverlap) {
  Bytes x = Bytes().header(2, 0).tensor("a", {0}, 0, 0).tensor("b", {32}, 0, 0).pad().zeros(128);
  EXPECT_TRUE(parse(x).ok()) << parse(x).to_string();
}

// Every prefix shorter than the end of the last tensor's data must fail; longer ones
// (cutting only the final padding) are complete files.
void check_every_prefix(const std::vector<uint8_t>& full, uint64_t step_after) {
  auto f = File::from_buffer(full.data(), full.size(), "full.gguf");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  uint64_t data_end = (*f)->data_offset();
  for (const auto& t : (*f)->tensors()) data_end = std::max(data_end, (*f)->data_offset() + t.offset + t.n_bytes);
  const uint64_t header_end = (*f)->data_offset();
  for (uint64_t n = 0; n <= full.size(); n += (n < header_end ? 1 : step_after)) {
    std::vector<uint8_t> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));  // own buffer: ASan sees overreads
    auto p = File::from_buffer(prefix.data(), prefix.size(), "prefix.gguf");
    if (n < data_end) {
      ASSERT_FALSE(p.ok()) << "prefix of " << n << " bytes parsed";
      ASSERT_EQ(p.status().code(), StatusCode::kCorrupt) << n;
      ASSERT_EQ(p.status().message().rfind("prefix.gguf: ", 0), 0u) << p.status().message();
    } else {
      ASSERT_TRUE(p.ok()) << n << ": " << p.status().to_string();
    }
  }
}

TEST(GgufCorrupt, EveryTruncatedPrefixOfAWriterFileFails) {
  Writer w;
  w.set("general.architecture", Value::string("llama"));
  w.set("a.u8", [] { Value v; v.type = ValueType::kUint8; v.u = 7; return v; }());
  w.set("a.f32", Value::f32(0.5f));
  w.set("a.bool", Value::boolean(true));
  w.set("a.strings", Value::string_array({"x", "▁y", ""}));
  w.set("a.ints", Value::i32_array({1, 2, 3}));
  std::vector<float> x(64, 0.25f);
  ASSERT_TRUE(w.add_tensor_f32("t0", {32, 2}, TensorType::kQ8_0, x).ok());
  ASSERT_TRUE(w.add_tensor_f32("t1", {16}, TensorType::kF16, std::span<const float>(x).first(16)).ok());
  ASSERT_TRUE(w.add_tensor_f32("t2", {3}, TensorType::kF32, std::span<const float>(x).first(3)).ok());
  check_every_prefix(w.to_bytes(), 1);
}

TEST(GgufCorrupt, EveryTruncatedPrefixOfASynthFileFails) {
  test::TempDir dir;
  auto spec = *synth_preset("tiny");
  spec.type = TensorType::kQ4_0;
  ASSERT_TRUE(synth_write(spec, dir.file("t.gguf")).ok());
  const std::string s = test::read_file(dir.file("t.gguf"));
  check_every_prefix(std::vector<uint8_t>(s.begin(), s.end()), 97);  // every header byte, then a stride
}

TEST(GgufCorrupt, RandomByteDamageNeverCrashes) {
  Writer w;
  w.set("general.architecture", Value::string("llama"));
  w.set("a.strings", Value::string_array({"x", "▁y", ""}));
  w.set("a.f32s", Value::f32_array({1, 2}));
  std::vector<float> x(64, 0.25f);
  ASSERT_TRUE(w.add_tensor_f32("t0", {32, 2}, TensorType::kQ8_0, x).ok());
  ASSERT_TRUE(w.add_tensor_f32("t1", {64}, TensorType::kBF16, x).ok());
  const std::vector<uint8_t> good = w.to_bytes();
  uint64_t state = 12345;
  auto next = [&] { state = state * 6364136223846793005ull + 1442695040888963407ull; return state >> 33; };
  int parsed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> bad = good;
    const int n_flips = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < n_flips; ++k) bad[next() % 300] = static_cast<uint8_t>(next());  // damage the header region
    auto f = File::from_buffer(bad.data(), bad.size(), "bad.gguf");
    if (f.ok()) {
      ++parsed;
      for (const auto& t : (*f)->tensors()) {
        auto span = (*f)->tensor_data(t);
        ASSERT_LE(span.data() + span.size(), bad.data() + bad.size());
      }
    }
  }
  EXPECT_GT(parsed, 0);  // some damage (e.g. inside a string) still parses
}

TEST(GgufFile, OpenReportsMissingAndEmptyFiles) {
  test::TempDir dir;
  auto missing = File::open(dir.file("absent.gguf"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), dir.file("absent.gguf") + ": no such file");
  test::write_file(dir.file("empty.gguf"), "");
  auto empty = File::open(dir.file("empty.gguf"));
  EXPECT_EQ(empty.status().message(), dir.file("empty.gguf") + ": file is 0 bytes, too short for a GGUF file (magic 'GGUF' expected)");
  auto d = File::open(dir.path().string());
  EXPECT_EQ(d.status().message(), dir.path().string() + ": not a regular file");
}

}  // namespace
}  // namespace plumb::gguf
