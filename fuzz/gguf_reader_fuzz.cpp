// libFuzzer target for the GGUF reader: parse any bytes, walk everything that parsed, and
// check that a file the reader accepts re-encodes (Writer) into a file it accepts again
// with the same metadata and tensors.  Run with scripts/fuzz.sh gguf_reader_fuzz SECONDS.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "plumb/gguf.h"

namespace {

using plumb::gguf::File;
using plumb::gguf::Value;
using plumb::gguf::ValueType;

// Touches every byte of every value so ASan sees any dangling or out-of-bounds data.
uint64_t walk(const Value& v) {
  uint64_t h = static_cast<uint64_t>(v.type) + v.u + static_cast<uint64_t>(v.i);
  for (char c : v.str) h = h * 31 + static_cast<unsigned char>(c);
  for (const Value& e : v.array) h += walk(e);
  return h;
}

bool same(const Value& a, const Value& b) {
  if (a.type != b.type || a.u != b.u || a.i != b.i || a.str != b.str || a.array.size() != b.array.size()) return false;
  if (a.type == ValueType::kArray && a.array_type != b.array_type) return false;
  if (a.f != b.f && !(a.f != a.f && b.f != b.f)) return false;  // NaN == NaN here
  for (size_t i = 0; i < a.array.size(); ++i)
    if (!same(a.array[i], b.array[i])) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = File::from_buffer(data, size, "fuzz.gguf");
  if (!parsed.ok()) return 0;
  const File& f = **parsed;
  volatile uint64_t sink = 0;
  plumb::gguf::Writer w;
  for (const auto& kv : f.metadata()) {
    sink = sink + walk(kv.value);
    // The typed getters must fail cleanly on whatever type the key has.
    (void)f.get_int(kv.key);
    (void)f.get_float(kv.key);
    (void)f.get_string(kv.key);
    (void)f.get_bool(kv.key);
    (void)f.get_string_array(kv.key);
    (void)f.get_float_array(kv.key);
    (void)f.get_int_array(kv.key);
    w.set(kv.key, kv.value);
  }
  for (const auto& t : f.tensors()) {
    auto bytes = f.tensor_data(t);
    for (uint8_t b : bytes) sink = sink + b;
    if (f.find_tensor(t.name) != &t) std::abort();  // names are unique
    if (!w.add_tensor_raw(t.name, t.shape, t.type, std::vector<uint8_t>(bytes.begin(), bytes.end())).ok()) std::abort();
  }
  // Round trip: what the reader accepts, the writer can write and the reader reads back.
  const std::vector<uint8_t> again = w.to_bytes();
  auto g = File::from_buffer(again.data(), again.size(), "again.gguf");
  if (!g.ok()) std::abort();
  if ((*g)->metadata().size() != f.metadata().size() || (*g)->tensors().size() != f.tensors().size()) std::abort();
  for (size_t i = 0; i < f.metadata().size(); ++i) {
    if ((*g)->metadata()[i].key != f.metadata()[i].key) std::abort();
    if (!same((*g)->metadata()[i].value, f.metadata()[i].value)) std::abort();
  }
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& a = f.tensors()[i];
    const auto& b = (*g)->tensors()[i];
    if (a.name != b.name || a.shape != b.shape || a.type != b.type || a.n_bytes != b.n_bytes) std::abort();
    auto da = f.tensor_data(a);
    auto db = (*g)->tensor_data(b);
    if (da.size() != db.size() || (!da.empty() && std::memcmp(da.data(), db.data(), da.size()) != 0)) std::abort();
  }
  return 0;
}
