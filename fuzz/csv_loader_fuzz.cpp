// libFuzzer target: the CSV loader and the chunker on arbitrary bytes.  Besides not crashing,
// every record must be valid UTF-8, within the input's lines and bytes.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "index/chunker.h"
#include "index/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace plumb::index;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto doc = load_csv(in, "fuzz.csv");
  if (!doc.ok()) return 0;
  std::string warning;
  const std::string repaired = repair_utf8(in, &warning);
  for (const auto& s : doc->sections) {
    std::string w;
    (void)repair_utf8(s.text, &w);
    if (!w.empty() || s.text.empty()) std::abort();
    if (s.line_start < 1 || s.line_end < s.line_start) std::abort();
    if (s.byte_start < 0 || s.byte_end < s.byte_start || s.byte_end > static_cast<int64_t>(repaired.size())) std::abort();
  }
  auto chunks = chunk_sections(doc->sections, ChunkingOptions{.chunk_tokens = 8, .overlap_tokens = 3});
  for (const auto& c : chunks)
    if (c.text.empty()) std::abort();
  return 0;
}
