// Chunking: structure first (the loader's sections: paragraphs, heading sections, pages, CSV
// rows), then size.  Consecutive small sections that share a page and heading are merged up to
// `chunk_tokens` words; a section longer than that is cut into windows of `chunk_tokens` words
// that overlap by `overlap_tokens`.  A word (whitespace-separated) approximates a token.
#pragma once

#include <vector>

#include "index/loader.h"
#include "plumb/doc_index.h"

namespace plumb::index {

struct ChunkData {
  std::string text;
  std::string heading;
  int page = 0;
  int line_start = 0, line_end = 0;
  int64_t byte_start = -1, byte_end = -1;
};

// REQUIRES: options.chunk_tokens > 0, 0 <= overlap_tokens < chunk_tokens (checked by callers).
std::vector<ChunkData> chunk_sections(const std::vector<Section>& sections, const ChunkingOptions& options);

}  // namespace plumb::index
