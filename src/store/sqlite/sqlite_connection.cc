#include "store/sqlite/sqlite_connection.h"

#include <sqlite3.h>

#include "store/sqlite/checkpointer.h"

namespace boucle::store::sqlite {

namespace {

Status statusFor(int rc, std::string msg) {
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return Status::Conflict(std::move(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Timeout(std::move(msg));
    case SQLITE_NOTFOUND:
      return Status::NotFound(std::move(msg));
    case SQLITE_CORRUPT:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
      return Status::Io(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

// SQLite error code + message as a Status (constraint violations are Conflict).
Status sqliteStatus(sqlite3* db, int rc, std::string_view what) {
  return statusFor(rc, std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

class SqliteCursor : public sql::Cursor {
 public:
  SqliteCursor(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt, sqlite3_finalize) {}

  void bindInt(int index, int64_t v) override { note(sqlite3_bind_int64(stmt_.get(), index, v)); }
  void bindText(int index, std::string_view v) override {
    note(sqlite3_bind_text(stmt_.get(), index, v.data(), static_cast<int>(v.size()),
                           SQLITE_TRANSIENT));
  }
  void bindNull(int index) override { note(sqlite3_bind_null(stmt_.get(), index)); }

  Result<bool> step() override {
    if (bindError_ != SQLITE_OK) return sqliteStatus(db_, bindError_, "bind");
    int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return sqliteStatus(db_, rc, sqlite3_sql(stmt_.get()));
  }

  void reset() override {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    bindError_ = SQLITE_OK;
  }

  int64_t integer(int column) const override { return sqlite3_column_int64(stmt_.get(), column); }
  std::string text(int column) const override {
    const unsigned char* p = sqlite3_column_text(stmt_.get(), column);
    int n = sqlite3_column_bytes(stmt_.get(), column);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n))
             : std::string();
  }
  bool isNull(int column) const override {
    return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
  }
  int columnCount() const override { return sqlite3_column_count(stmt_.get()); }
  std::string columnName(int column) const override {
    const char* n = sqlite3_column_name(stmt_.get(), column);
    return n ? n : "";
  }
  bool isInteger(int column) const override {
    return sqlite3_column_type(stmt_.get(), column) == SQLITE_INTEGER;
  }

 private:
  void note(int rc) {
    if (rc != SQLITE_OK && bindError_ == SQLITE_OK) bindError_ = rc;
  }
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt_;
  int bindError_ = SQLITE_OK;
};

class SqliteConnection : public sql::Connection {
 public:
  SqliteConnection(sqlite3* db, const std::string& path)
      : db_(db, sqlite3_close_v2), checkpoints_(path) {}

  // After the pragmas: the checkpointer's thread opens a connection of its own.
  void attachCheckpoints() { checkpoints_.attach(db_.get()); }

  sql::Dialect dialect() const override { return sql::Dialect::kSqlite; }

  Result<sql::Statement> prepare(std::string_view sql) override {
    sqlite3_stmt* stmt = nullptr;
    int rc =
        sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return sqliteStatus(db_.get(), rc, "prepare " + std::string(sql));
    }
    return sql::Statement(std::make_unique<SqliteCursor>(db_.get(), stmt));
  }

  Status exec(std::string_view sql) override {
    char* err = nullptr;
    std::string s(sql);
    int rc = sqlite3_exec(db_.get(), s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      return statusFor(rc, msg);
    }
    return Status::Ok();
  }

  // BEGIN IMMEDIATE takes the write lock at once: SQLite has one writer, so nothing else can
  // interleave and the body never needs to run twice.
  Status transaction(const std::function<Status()>& body) override {
    if (auto st = exec("BEGIN IMMEDIATE"); !st.ok()) return st;
    Status st = body();
    if (st.ok()) st = exec("COMMIT");
    if (!st.ok()) {
      Status rb = exec("ROLLBACK");
      (void)rb;  // the original error is the one to report; a failed rollback leaves no txn open
    }
    return st;
  }

  int64_t changes() const override { return sqlite3_changes64(db_.get()); }

  // The schema's version is the database file's user_version.
  Status migrate() override {
    int64_t version = 0;
    {
      auto q = prepare("PRAGMA user_version");
      if (!q.ok()) return q.status();
      auto row = q->step();
      if (!row.ok()) return row.status();
      version = q->integer(0);
    }
    return sql::applyMigrations(*this, version, sqlite::migrations(), [this](int64_t v) {
      return exec("PRAGMA user_version = " + std::to_string(v));
    });
  }

  // This process is the database's only writer, so its own count of changes is the whole
  // story.
  uint64_t revision(int64_t monitorChanges) override {
    return static_cast<uint64_t>(totalChanges() - monitorChanges);
  }
  int64_t totalChanges() const override { return sqlite3_total_changes64(db_.get()); }

  Result<std::string> integrityCheck() override {
    auto s = prepare("PRAGMA integrity_check");
    if (!s.ok()) return s.status();
    std::string out;
    for (;;) {
      auto row = s->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      if (!out.empty()) out += "\n";
      out += s->text(0);
    }
    return out;
  }

  void releaseMemory() override { sqlite3_db_release_memory(db_.get()); }

 private:
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db_;
  Checkpointer checkpoints_;  // declared after db_: stops before it closes
};

}  // namespace

Result<std::unique_ptr<sql::Connection>> open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  auto db = std::make_unique<SqliteConnection>(raw, path);
  if (rc != SQLITE_OK) return sqliteStatus(raw, rc, "open " + path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 5000);
  // WAL: readers never block the writer; synchronous=NORMAL in WAL keeps the database
  // consistent after a crash (a kill -9 of the process loses nothing committed).
  // journal_size_limit: once a checkpoint let the WAL start over, its file is cut back to 1 MB
  // rather than keeping the size of the largest burst for ever.
  if (auto st = db->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                         "PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=1048576;");
      !st.ok()) {
    return st;
  }
  db->attachCheckpoints();
  return std::unique_ptr<sql::Connection>(std::move(db));
}

}  // namespace boucle::store::sqlite
