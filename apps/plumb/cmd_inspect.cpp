// `plumb inspect FILE.gguf`: header, metadata, tensor table and totals of a GGUF file.
#include <nlohmann/json.hpp>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "command.h"
#include "plumb/gguf.h"

namespace plumb::app {
namespace {

using gguf::Value;
using gguf::ValueType;
using json = nlohmann::ordered_json;

constexpr size_t kShownElements = 5;   // array elements shown without --all
constexpr size_t kShownChars = 72;     // string characters shown without --all

std::string value_type_desc(const Value& v) {
  if (v.type != ValueType::kArray) return std::string(gguf::value_type_name(v.type));
  std::string inner = v.array.empty() || v.array_type != ValueType::kArray ? std::string(gguf::value_type_name(v.array_type))
                                                                             : value_type_desc(v.array[0]);
  return "[" + inner + " x " + std::to_string(v.array.size()) + "]";
}

// A string as a JSON-style literal: quotes, and \n etc. escaped so one value stays on one line.
std::string quoted(const std::string& s, bool all) {
  if (!all && s.size() > kShownChars) {
    size_t cut = kShownChars;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
    return json(s.substr(0, cut)).dump() + "... (" + std::to_string(s.size()) + " bytes)";
  }
  return json(s).dump();
}

std::string format_float(double f, bool is_f32) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", is_f32 ? 9 : 17, f);
  // Prefer the short form when it reads back to the same value.
  char shortbuf[64];
  std::snprintf(shortbuf, sizeof shortbuf, "%g", f);
  if (is_f32 ? static_cast<float>(std::strtod(shortbuf, nullptr)) == static_cast<float>(f)
             : std::strtod(shortbuf, nullptr) == f)
    return shortbuf;
  return buf;
}

std::string format_value(const Value& v, bool all) {
  switch (v.type) {
    case ValueType::kUint8: case ValueType::kUint16: case ValueType::kUint32: case ValueType::kUint64:
      return std::to_string(v.u);
    case ValueType::kInt8: case ValueType::kInt16: case ValueType::kInt32: case ValueType::kInt64:
      return std::to_string(v.i);
    case ValueType::kFloat32: return format_float(v.f, true);
    case ValueType::kFloat64: return format_float(v.f, false);
    case ValueType::kBool: return v.u ? "true" : "false";
    case ValueType::kString: return quoted(v.str, all);
    case ValueType::kArray: {
      std::string out = "[";
      const size_t n = all ? v.array.size() : std::min(v.array.size(), kShownElements);
      for (size_t i = 0; i < n; ++i) out += (i ? ", " : "") + format_value(v.array[i], all);
      if (n < v.array.size()) out += (n ? ", " : "") + std::string("... (") + std::to_string(v.array.size() - n) + " more)";
      return out + "]";
    }
  }
  return "?";
}

json value_json(const Value& v) {
  switch (v.type) {
    case ValueType::kUint8: case ValueType::kUint16: case ValueType::kUint32: case ValueType::kUint64: return v.u;
    case ValueType::kInt8: case ValueType::kInt16: case ValueType::kInt32: case ValueType::kInt64: return v.i;
    case ValueType::kFloat32: case ValueType::kFloat64: return std::isfinite(v.f) ? json(v.f) : json(format_float(v.f, true));
    case ValueType::kBool: return v.u != 0;
    case ValueType::kString: return v.str;
    case ValueType::kArray: {
      json a = json::array();
      for (const Value& e : v.array) a.push_back(value_json(e));
      return a;
    }
  }
  return nullptr;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? " x " : "") + std::to_string(shape[i]);
  return s;
}

// "1.24 B", "260.03 K", "512".
std::string human_count(uint64_t n) {
  const char* units[] = {"", " K", " M", " B", " T"};
  double x = static_cast<double>(n);
  int u = 0;
  while (x >= 1000 && u < 4) x /= 1000, ++u;
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%" PRIu64, n);
  else std::snprintf(buf, sizeof buf, "%.2f%s", x, units[u]);
  return buf;
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double x = static_cast<double>(n);
  int u = 0;
  while (x >= 1024 && u < 4) x /= 1024, ++u;
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%" PRIu64 " B", n);
  else std::snprintf(buf, sizeof buf, "%.2f %s", x, units[u]);
  return buf;
}

struct Totals {
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_type;  // name -> (tensors, bytes)
  uint64_t params = 0;
  uint64_t bytes = 0;
};

Totals totals_of(const gguf::File& f) {
  Totals t;
  for (const auto& ti : f.tensors()) {
    auto& e = t.by_type[std::string(tensor_type_name(ti.type))];
    e.first += 1;
    e.second += ti.n_bytes;
    t.params += static_cast<uint64_t>(ti.n_elements());
    t.bytes += ti.n_bytes;
  }
  return t;
}

int print_json(const gguf::File& f) {
  json j;
  j["file"] = f.path();
  j["version"] = f.version();
  j["alignment"] = f.alignment();
  j["tensor_count"] = f.tensors().size();
  j["kv_count"] = f.metadata().size();
  j["data_offset"] = f.data_offset();
  j["file_size"] = f.file_size();
  json meta = json::object(), types = json::object();
  for (const auto& kv : f.metadata()) {
    meta[kv.key] = value_json(kv.value);
    types[kv.key] = value_type_desc(kv.value);
  }
  j["metadata"] = std::move(meta);
  j["metadata_types"] = std::move(types);
  json tensors = json::array();
  for (const auto& t : f.tensors())
    tensors.push_back({{"name", t.name}, {"type", std::string(tensor_type_name(t.type))}, {"shape", t.shape},
                       {"offset", t.offset}, {"bytes", t.n_bytes}});
  j["tensors"] = std::move(tensors);
  const Totals tot = totals_of(f);
  json by_type = json::object();
  for (const auto& [name, e] : tot.by_type) by_type[name] = {{"tensors", e.first}, {"bytes", e.second}};
  j["totals"] = {{"parameters", tot.params}, {"tensor_bytes", tot.bytes}, {"by_type", std::move(by_type)}};
  std::printf("%s\n", j.dump(2).c_str());
  return kExitOk;
}

int print_text(const gguf::File& f, bool all) {
  std::printf("%s\n", f.path().c_str());
  std::printf("  GGUF version %u, alignment %" PRIu64 ", %zu tensors, %zu metadata keys\n", f.version(), f.alignment(),
              f.tensors().size(), f.metadata().size());
  std::printf("  data section at byte %" PRIu64 ", file size %" PRIu64 " bytes (%s)\n", f.data_offset(), f.file_size(),
              human_bytes(f.file_size()).c_str());

  size_t key_w = 3, type_w = 4;
  for (const auto& kv : f.metadata()) {
    key_w = std::max(key_w, kv.key.size());
    type_w = std::max(type_w, value_type_desc(kv.value).size());
  }
  std::printf("\nMetadata (%zu keys)\n", f.metadata().size());
  for (const auto& kv : f.metadata())
    std::printf("  %-*s  %-*s  %s\n", static_cast<int>(key_w), kv.key.c_str(), static_cast<int>(type_w),
                value_type_desc(kv.value).c_str(), format_value(kv.value, all).c_str());

  size_t name_w = 4, shape_w = 5;
  for (const auto& t : f.tensors()) {
    name_w = std::max(name_w, t.name.size());
    shape_w = std::max(shape_w, shape_str(t.shape).size());
  }
  std::printf("\nTensors (%zu)\n", f.tensors().size());
  std::printf("  %-*s  %-7s  %-*s  %12s\n", static_cast<int>(name_w), "name", "type", static_cast<int>(shape_w), "shape", "bytes");
  for (const auto& t : f.tensors())
    std::printf("  %-*s  %-7s  %-*s  %12" PRIu64 "\n", static_cast<int>(name_w), t.name.c_str(),
                std::string(tensor_type_name(t.type)).c_str(), static_cast<int>(shape_w), shape_str(t.shape).c_str(), t.n_bytes);

  const Totals tot = totals_of(f);
  std::printf("\nTotals\n");
  for (const auto& [name, e] : tot.by_type)
    std::printf("  %-7s  %5" PRIu64 " tensors  %12" PRIu64 " bytes (%s)\n", name.c_str(), e.first, e.second,
                human_bytes(e.second).c_str());
  std::printf("  all      %5zu tensors  %12" PRIu64 " bytes (%s)\n", f.tensors().size(), tot.bytes, human_bytes(tot.bytes).c_str());
  std::printf("  %s params (%" PRIu64 ")\n", human_count(tot.params).c_str(), tot.params);
  return kExitOk;
}

struct InspectOptions {
  std::string path;
  bool json = false;
  bool all = false;
};

const CommandRegistration kRegistration(
    "inspect", 10, "Show a GGUF file's header, metadata, tensors and parameter count",
    [](CLI::App& sub) -> std::function<int()> {
      auto opt = std::make_shared<InspectOptions>();
      sub.add_option("file", opt->path, "GGUF file to read")->required();
      sub.add_flag("--json", opt->json, "Print everything as JSON (full arrays included)");
      sub.add_flag("--all", opt->all, "Show long arrays and strings in full instead of abbreviating them");
      sub.footer(
          "Exit status: 0 ok, 1 unreadable or corrupt file (the message says where), 3 no such file.\n\n"
          "Examples:\n"
          "  plumb inspect model.gguf\n"
          "  plumb inspect model.gguf --all | less          # every token of the vocabulary\n"
          "  plumb inspect model.gguf --json | jq '.metadata[\"llama.block_count\"]'\n");
      return [opt] {
        auto f = gguf::File::open(opt->path);
        if (!f.ok()) {
          print_error("inspect", f.status().message());
          return f.status().code() == StatusCode::kNotFound ? static_cast<int>(kExitNotFound) : static_cast<int>(kExitError);
        }
        return opt->json ? print_json(**f) : print_text(**f, opt->all);
      };
    });

}  // namespace
}  // namespace plumb::app
