#include "index/sqlite_db.h"

namespace plumb::index {

Result<bool> Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Status::IOError(std::string("sqlite step: ") + sqlite3_errmsg(db_) + " (in: " + sqlite3_sql(stmt_) + ")");
}

Status Stmt::run() {
  for (;;) {
    PLUMB_ASSIGN_OR_RETURN(bool row, step());
    if (!row) break;
  }
  reset();
  return Status::Ok();
}

Result<std::unique_ptr<Db>> Db::open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    if (raw) sqlite3_close(raw);
    return Status::IOError(path + ": cannot open database: " + msg);
  }
  std::unique_ptr<Db> db(new Db(raw, path));
  sqlite3_busy_timeout(raw, 10000);
  sqlite3_extended_result_codes(raw, 1);
  // WAL + NORMAL: a killed process loses nothing committed; readers never block the writer.
  PLUMB_RETURN_IF_ERROR(db->exec("PRAGMA journal_mode=WAL"));
  PLUMB_RETURN_IF_ERROR(db->exec("PRAGMA synchronous=NORMAL"));
  PLUMB_RETURN_IF_ERROR(db->exec("PRAGMA foreign_keys=ON"));
  // 32 MiB page cache: FTS5 segment merges while indexing re-read recent pages constantly.
  PLUMB_RETURN_IF_ERROR(db->exec("PRAGMA cache_size=-32768"));
  return db;
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

Status Db::error(std::string_view what) const {
  return Status::IOError(path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

Status Db::exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    // A file that is not a database at all deserves its own wording.
    if ((rc & 0xff) == SQLITE_NOTADB) return Status::Corrupt(path_ + ": not an SQLite database (" + msg + ")");
    return Status::IOError(path_ + ": " + msg + " (in: " + s.substr(0, 80) + ")");
  }
  return Status::Ok();
}

Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &st, nullptr);
  if (rc != SQLITE_OK) {
    return Status::IOError(path_ + ": cannot prepare statement: " + sqlite3_errmsg(db_) + " (in: " +
                           std::string(sql.substr(0, 80)) + ")");
  }
  return Stmt(st, db_);
}

}  // namespace plumb::index
