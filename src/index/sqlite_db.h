// RAII over sqlite3 / sqlite3_stmt with Status errors.  Internal to the index module.
//
// Thread safety: one Db per thread.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "plumb/status.h"

namespace plumb::index {

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3_stmt* s, sqlite3* db) : stmt_(s), db_(db) {}
  Stmt(Stmt&& o) noexcept : stmt_(o.stmt_), db_(o.db_) { o.stmt_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept {
    if (this != &o) {
      if (stmt_) sqlite3_finalize(stmt_);
      stmt_ = o.stmt_;
      db_ = o.db_;
      o.stmt_ = nullptr;
    }
    return *this;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() {
    if (stmt_) sqlite3_finalize(stmt_);
  }

  // Binders are 1-based like SQLite's.  They return *this for chaining.
  Stmt& bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); return *this; }
  Stmt& bind(int i, int v) { sqlite3_bind_int64(stmt_, i, v); return *this; }
  Stmt& bind(int i, double v) { sqlite3_bind_double(stmt_, i, v); return *this; }
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind_blob(int i, const void* p, size_t n) {
    sqlite3_bind_blob(stmt_, i, p, static_cast<int>(n), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_null(int i) { sqlite3_bind_null(stmt_, i); return *this; }

  // True while a row is available; false when done.  Errors become a Status.
  Result<bool> step();
  // Steps to completion, ignoring rows; resets for reuse.
  Status run();
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  int64_t col_int(int i) const { return sqlite3_column_int64(stmt_, i); }
  double col_double(int i) const { return sqlite3_column_double(stmt_, i); }
  std::string col_text(int i) const {
    const unsigned char* p = sqlite3_column_text(stmt_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, i)) : std::string();
  }
  // View valid until the next step/reset.
  std::string_view col_blob(int i) const {
    const void* p = sqlite3_column_blob(stmt_, i);
    return p ? std::string_view(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, i)) : std::string_view();
  }
  bool col_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
};

class Db {
 public:
  // Opens (creating if needed) with WAL, a busy timeout and foreign keys on.
  static Result<std::unique_ptr<Db>> open(const std::string& path);
  ~Db();

  Status exec(std::string_view sql);
  Result<Stmt> prepare(std::string_view sql);
  int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
  int64_t changes() const { return sqlite3_changes64(db_); }
  const std::string& path() const { return path_; }
  sqlite3* raw() { return db_; }
  // "<path>: <what>: <sqlite message>"
  Status error(std::string_view what) const;

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

// Rolls back on destruction unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) {}
  ~Transaction() {
    if (open_) (void)db_.exec("ROLLBACK");
  }
  Status begin() {
    PLUMB_RETURN_IF_ERROR(db_.exec("BEGIN IMMEDIATE"));
    open_ = true;
    return Status::Ok();
  }
  Status commit() {
    PLUMB_RETURN_IF_ERROR(db_.exec("COMMIT"));
    open_ = false;
    return Status::Ok();
  }

 private:
  Db& db_;
  bool open_ = false;
};

}  // namespace plumb::index
