#pragma once
// A thin SQLite wrapper whose every call returns a Status: no SQLite error is ever dropped.
// One Database is one connection; it is not shared between threads without a lock.

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace boucle::store::sqlite {

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt, sqlite3_finalize) {}

  Statement& bind(int index, int64_t v);
  Statement& bind(int index, std::string_view v);
  Statement& bindNull(int index);
  Statement& bind(int index, const std::optional<int64_t>& v);

  // Advances to the next row: true with a row, false when done; errors are a Status.
  Result<bool> step();
  // Runs a statement that returns no rows.
  Status run();
  // Ready to run again with new bindings (a batch of inserts prepared once).
  void reset();

  int64_t integer(int column) const;
  std::string text(int column) const;
  bool isNull(int column) const;

 private:
  Status bindStatus() const;
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt_;
  int bindError_ = SQLITE_OK;
};

class Database {
 public:
  // Opens (creating) a database in WAL mode with foreign keys on and a busy timeout.
  static Result<Database> open(const std::string& path);

  Result<Statement> prepare(std::string_view sql);
  Status exec(std::string_view sql);  // one or more statements, no results
  // Runs `body` in a transaction (BEGIN IMMEDIATE): committed when it returns Ok, rolled back
  // otherwise.
  Status transaction(const std::function<Status()>& body);
  int64_t lastInsertId() const { return sqlite3_last_insert_rowid(db_.get()); }
  int changes() const { return sqlite3_changes(db_.get()); }
  // Rows changed through this connection since it opened: grows with every write.
  int64_t totalChanges() const { return sqlite3_total_changes64(db_.get()); }
  sqlite3* handle() const { return db_.get(); }

 private:
  explicit Database(sqlite3* db) : db_(db, sqlite3_close_v2) {}
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db_;
};

// Every row a query returns, each turned into a value by `read(statement)`.
template <class Read>
auto readAll(Statement& s, Read read) -> Result<std::vector<decltype(read(s))>> {
  std::vector<decltype(read(s))> out;
  for (;;) {
    auto row = s.step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(read(s));
  }
  return out;
}

// SQLite error code + message as a Status (constraint violations are Conflict).
Status sqliteStatus(sqlite3* db, int rc, std::string_view what);

}  // namespace boucle::store::sqlite
