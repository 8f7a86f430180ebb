// Long-term chat memory: turns in a SQLite file (WAL), an FTS5 index over their text, recall by
// bm25() with the same query sanitiser as the document index.
#include <ctime>

#include "index/sqlite_db.h"
#include "plumb/doc_index.h"

namespace plumb::index {
namespace {

class ChatMemoryImpl final : public ChatMemory {
 public:
  explicit ChatMemoryImpl(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  Status init() {
    return db_->exec(R"sql(
      CREATE TABLE IF NOT EXISTS turns(
        id INTEGER PRIMARY KEY,
        session TEXT NOT NULL,
        role TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS turns_by_session ON turns(session, id);
      CREATE VIRTUAL TABLE IF NOT EXISTS turns_fts USING fts5(text, content='turns', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2');
      CREATE TRIGGER IF NOT EXISTS turns_ai AFTER INSERT ON turns BEGIN
        INSERT INTO turns_fts(rowid, text) VALUES (new.id, new.text);
      END;
      CREATE TRIGGER IF NOT EXISTS turns_ad AFTER DELETE ON turns BEGIN
        INSERT INTO turns_fts(turns_fts, rowid, text) VALUES ('delete', old.id, old.text);
      END;
    )sql");
  }

  Result<int64_t> add_turn(const std::string& session, const std::string& role, const std::string& text) override {
    PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare(
        "INSERT INTO turns(session, role, text, created_at) VALUES (?1, ?2, ?3, ?4)"));
    st.bind(1, session).bind(2, role).bind(3, text).bind(4, static_cast<int64_t>(std::time(nullptr)));
    PLUMB_RETURN_IF_ERROR(st.run());
    return db_->last_insert_id();
  }

  Result<std::vector<MemoryTurn>> recall(const std::string& text, int k, int64_t before_id) override {
    std::vector<MemoryTurn> out;
    const std::string match = fts_query_from_text(text);
    if (match.empty() || k <= 0) return out;
    PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare(
        "SELECT t.id, t.session, t.role, t.text, t.created_at, bm25(turns_fts) AS s "
        "FROM turns_fts JOIN turns t ON t.id = turns_fts.rowid "
        "WHERE turns_fts MATCH ?1 AND (?2 <= 0 OR t.id < ?2) ORDER BY s, t.id DESC LIMIT ?3"));
    st.bind(1, match).bind(2, before_id).bind(3, k);
    for (;;) {
      PLUMB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      out.push_back(row_to_turn(st));
      out.back().score = -st.col_double(5);
    }
    return out;
  }

  Result<std::vector<MemoryTurn>> recent(const std::string& session, int n) override {
    std::vector<MemoryTurn> out;
    PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare(
        "SELECT id, session, role, text, created_at FROM "
        "(SELECT * FROM turns WHERE session = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id"));
    st.bind(1, session).bind(2, n);
    for (;;) {
      PLUMB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      out.push_back(row_to_turn(st));
    }
    return out;
  }

  Result<int64_t> count() override {
    PLUMB_ASSIGN_OR_RETURN(Stmt st, db_->prepare("SELECT count(*) FROM turns"));
    PLUMB_ASSIGN_OR_RETURN(bool row, st.step());
    return row ? st.col_int(0) : int64_t{0};
  }

 private:
  static MemoryTurn row_to_turn(const Stmt& st) {
    MemoryTurn t;
    t.id = st.col_int(0);
    t.session = st.col_text(1);
    t.role = st.col_text(2);
    t.text = st.col_text(3);
    t.created_at = st.col_int(4);
    return t;
  }

  std::unique_ptr<Db> db_;
};

}  // namespace

Result<std::unique_ptr<ChatMemory>> ChatMemory::open(const std::string& path) {
  PLUMB_ASSIGN_OR_RETURN(auto db, Db::open(path));
  auto m = std::make_unique<ChatMemoryImpl>(std::move(db));
  PLUMB_RETURN_IF_ERROR(m->init());
  return std::unique_ptr<ChatMemory>(std::move(m));
}

}  // namespace plumb::index
