#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "index/doc_index_impl.h"

namespace plumb::index {

std::string_view message_level_name(IndexMessage::Level level) {
  switch (level) {
    case IndexMessage::Level::kInfo: return "info";
    case IndexMessage::Level::kWarning: return "warning";
    case IndexMessage::Level::kError: return "error";
  }
  return "info";
}

std::string normalize_path(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  if (ec) p = path;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

Result<std::unique_ptr<DocIndex>> DocIndex::open(const std::string& db_path, const IndexConfig& config) {
  PLUMB_ASSIGN_OR_RETURN(auto db, Db::open(db_path));
  auto impl = std::make_unique<DocIndexImpl>(std::move(db));
  PLUMB_RETURN_IF_ERROR(impl->init_schema(config));
  return std::unique_ptr<DocIndex>(std::move(impl));
}

Status DocIndexImpl::init_schema(const IndexConfig& config) {
  PLUMB_RETURN_IF_ERROR(db_->exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)"));
  PLUMB_ASSIGN_OR_RETURN(std::string version, get_meta("schema_version"));
  if (!version.empty()) {
    if (version != std::to_string(kSchemaVersion))
      return Status::Unsupported(db_->path() + ": index schema version " + version + ", this plumb reads version " +
                                 std::to_string(kSchemaVersion));
    return Status::Ok();
  }
  const std::string tokenizer =
      config.porter_stemming ? "porter unicode61 remove_diacritics 2" : "unicode61 remove_diacritics 2";
  Transaction tx(*db_);
  PLUMB_RETURN_IF_ERROR(tx.begin());
  PLUMB_RETURN_IF_ERROR(db_->exec(R"sql(
    CREATE TABLE IF NOT EXISTS documents(
      id INTEGER PRIMARY KEY,
      path TEXT NOT NULL UNIQUE,
      kind TEXT NOT NULL,
      title TEXT NOT NULL,
      size INTEGER NOT NULL,
      mtime_ns INTEGER NOT NULL,
      hash TEXT NOT NULL,
      pages INTEGER NOT NULL DEFAULT 0,
      chunk_tokens INTEGER NOT NULL,
      overlap_tokens INTEGER NOT NULL,
      metadata TEXT NOT NULL DEFAULT '{}',
      indexed_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS chunks(
      id INTEGER PRIMARY KEY,
      doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      title TEXT NOT NULL,
      heading TEXT NOT NULL,
      text TEXT NOT NULL,
      page INTEGER NOT NULL DEFAULT 0,
      line_start INTEGER NOT NULL DEFAULT 0,
      line_end INTEGER NOT NULL DEFAULT 0,
      byte_start INTEGER NOT NULL DEFAULT -1,
      byte_end INTEGER NOT NULL DEFAULT -1,
      metadata TEXT NOT NULL DEFAULT '{}',
      embedding BLOB);
    CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id, seq);
    CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
      INSERT INTO chunks_fts(rowid, title, heading, text) VALUES (new.id, new.title, new.heading, new.text);
    END;
    CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
      INSERT INTO chunks_fts(chunks_fts, rowid, title, heading, text)
        VALUES ('delete', old.id, old.title, old.heading, old.text);
    END;
    CREATE TRIGGER IF NOT EXISTS chunks_au AFTER UPDATE OF title, heading, text ON chunks BEGIN
      INSERT INTO chunks_fts(chunks_fts, rowid, title, heading, text)
        VALUES ('delete', old.id, old.title, old.heading, old.text);
      INSERT INTO chunks_fts(rowid, title, heading, text) VALUES (new.id, new.title, new.heading, new.text);
    END;
  )sql"));
  PLUMB_RETURN_IF_ERROR(db_->exec("CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, heading, text, "
                                  "content='chunks', content_rowid='id', tokenize='" + tokenizer + "')"));
  PLUMB_RETURN_IF_ERROR(set_meta("schema_version", std::to_string(kSchemaVersion)));
  PLUMB_RETURN_IF_ERROR(set_meta("tokenizer", tokenizer));
  return tx.commit();
}

Result<std::string> DocIndexImpl::get_meta(const std::string& key) {
  PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare("SELECT value FROM meta WHERE key = ?1"));
  st.bind(1, key);
  PLUMB_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.col_text(0) : std::string();
}

Status DocIndexImpl::set_meta(const std::string& key, const std::string& value) {
  PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)"));
  st.bind(1, key).bind(2, value);
  return st.run();
}

Status DocIndexImpl::delete_document(int64_t doc_id) {
  // Chunks first, explicitly, so the FTS delete trigger sees every row.
  PLUMB_ASSIGN_OR_RETURN(Stmt del_chunks, db_->prepare("DELETE FROM chunks WHERE doc_id = ?1"));
  del_chunks.bind(1, doc_id);
  PLUMB_RETURN_IF_ERROR(del_chunks.run());
  PLUMB_ASSIGN_OR_RETURN(Stmt del_doc, db_->prepare("DELETE FROM documents WHERE id = ?1"));
  del_doc.bind(1, doc_id);
  return del_doc.run();
}

Result<std::vector<DocumentInfo>> DocIndexImpl::list() {
  PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare(
      "SELECT d.path, d.kind, d.title, d.size, d.mtime_ns, d.hash, d.pages, "
      "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.id) FROM documents d ORDER BY d.path"));
  std::vector<DocumentInfo> out;
  for (;;) {
    PLUMB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    DocumentInfo d;
    d.path = st.col_text(0);
    d.kind = st.col_text(1);
    d.title = st.col_text(2);
    d.size = st.col_int(3);
    d.mtime_ns = st.col_int(4);
    d.hash = st.col_text(5);
    d.pages = st.col_int(6);
    d.chunks = st.col_int(7);
    out.push_back(std::move(d));
  }
  return out;
}

Result<int64_t> DocIndexImpl::remove(const std::string& path) {
  const std::string p = normalize_path(path);
  PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare(
      "SELECT id FROM documents WHERE path = ?1 OR substr(path, 1, length(?1) + 1) = ?1 || '/'"));
  st.bind(1, p);
  std::vector<int64_t> ids;
  for (;;) {
    PLUMB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    ids.push_back(st.col_int(0));
  }
  if (ids.empty()) return int64_t{0};
  Transaction tx(*db_);
  PLUMB_RETURN_IF_ERROR(tx.begin());
  for (int64_t id : ids) PLUMB_RETURN_IF_ERROR(delete_document(id));
  PLUMB_RETURN_IF_ERROR(tx.commit());
  vectors_.reset();
  chunk_count_.reset();
  return static_cast<int64_t>(ids.size());
}

Result<IndexStats> DocIndexImpl::stats() {
  IndexStats s;
  PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare(
      "SELECT (SELECT count(*) FROM documents), (SELECT coalesce(sum(size), 0) FROM documents), "
      "(SELECT count(*) FROM chunks), (SELECT coalesce(sum(length(CAST(text AS BLOB))), 0) FROM chunks), "
      "(SELECT count(*) FROM chunks WHERE embedding IS NOT NULL)"));
  PLUMB_ASSIGN_OR_RETURN(bool row, st.step());
  if (row) {
    s.documents = st.col_int(0);
    s.source_bytes = st.col_int(1);
    s.chunks = st.col_int(2);
    s.text_bytes = st.col_int(3);
    s.embedded_chunks = st.col_int(4);
  }
  PLUMB_ASSIGN_OR_RETURN(Stmt kinds, db_->prepare("SELECT kind, count(*) FROM documents GROUP BY kind ORDER BY kind"));
  for (;;) {
    PLUMB_ASSIGN_OR_RETURN(bool r, kinds.step());
    if (!r) break;
    s.documents_by_kind.emplace_back(kinds.col_text(0), kinds.col_int(1));
  }
  PLUMB_ASSIGN_OR_RETURN(Stmt pages, db_->prepare("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"));
  PLUMB_ASSIGN_OR_RETURN(bool pr, pages.step());
  if (pr) s.db_bytes = pages.col_int(0);
  PLUMB_ASSIGN_OR_RETURN(s.embed_model, get_meta("embed_model"));
  PLUMB_ASSIGN_OR_RETURN(std::string dim, get_meta("embed_dim"));
  s.embed_dim = dim.empty() ? 0 : std::stoll(dim);
  PLUMB_ASSIGN_OR_RETURN(s.tokenizer, get_meta("tokenizer"));
  return s;
}

}  // namespace plumb::index
