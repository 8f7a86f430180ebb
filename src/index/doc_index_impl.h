// The SQLite-backed DocIndex.  Schema and ranking: docs/index.md.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "index/fts_query.h"
#include "index/sqlite_db.h"
#include "index/vector_search.h"
#include "plumb/doc_index.h"

namespace plumb::index {

inline constexpr int kSchemaVersion = 1;

class DocIndexImpl final : public DocIndex {
 public:
  explicit DocIndexImpl(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  Status init_schema(const IndexConfig& config);

  Result<AddReport> add(const std::vector<std::string>& paths, const AddOptions& options) override;
  Result<std::vector<DocumentInfo>> list() override;
  Result<int64_t> remove(const std::string& path) override;
  Result<std::vector<SearchHit>> query(const std::string& text, const QueryOptions& options) override;
  Result<IndexStats> stats() override;

  Db& db() { return *db_; }
  Result<std::string> get_meta(const std::string& key);  // "" when absent
  Status set_meta(const std::string& key, const std::string& value);

 private:
  Result<std::vector<FtsTerm>> prune_common_terms(std::vector<FtsTerm> terms);
  Result<std::vector<std::pair<int64_t, double>>> bm25_search(const std::string& text, int limit);
  Result<std::vector<std::pair<int64_t, float>>> vector_search(Embedder& embedder, const std::string& text, int limit);
  Status fill_hit(int64_t chunk_id, SearchHit* hit);
  Status delete_document(int64_t doc_id);

  std::unique_ptr<Db> db_;
  // Caches, reset by add/remove: the vectors (loaded on the first hybrid query) and the
  // number of chunks (for document-frequency pruning).
  std::optional<VectorMatrix> vectors_;
  std::optional<int64_t> chunk_count_;
  bool vocab_ready_ = false;
};

// Absolute, lexically normal, no trailing slash.
std::string normalize_path(const std::string& path);

}  // namespace plumb::index
