// libFuzzer target: the HTML loader and the chunker on arbitrary bytes.  Besides not crashing,
// every section and chunk must be valid UTF-8 with sane positions.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "index/chunker.h"
#include "index/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace plumb::index;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto doc = load_html(in, "fuzz.html");
  if (!doc.ok()) return 0;
  std::string warning;
  for (const auto& s : doc->sections) {
    (void)repair_utf8(s.text, &warning);
    if (!warning.empty() || s.text.empty() || s.line_start > s.line_end) std::abort();
  }
  (void)repair_utf8(doc->title, &warning);
  if (!warning.empty()) std::abort();
  auto chunks = chunk_sections(doc->sections, ChunkingOptions{.chunk_tokens = 8, .overlap_tokens = 3});
  for (const auto& c : chunks)
    if (c.text.empty()) std::abort();
  return 0;
}
