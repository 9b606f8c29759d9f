#include "store/sqlite/database.h"

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
}  // namespace

Status sqliteStatus(sqlite3* db, int rc, std::string_view what) {
  return statusFor(rc, std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

Statement& Statement::bind(int index, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_.get(), index, v);
  if (rc != SQLITE_OK && bindError_ == SQLITE_OK) bindError_ = rc;
  return *this;
}

Statement& Statement::bind(int index, std::string_view v) {
  int rc =
      sqlite3_bind_text(stmt_.get(), index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bindError_ == SQLITE_OK) bindError_ = rc;
  return *this;
}

Statement& Statement::bindNull(int index) {
  int rc = sqlite3_bind_null(stmt_.get(), index);
  if (rc != SQLITE_OK && bindError_ == SQLITE_OK) bindError_ = rc;
  return *this;
}

Statement& Statement::bind(int index, const std::optional<int64_t>& v) {
  return v ? bind(index, *v) : bindNull(index);
}

Status Statement::bindStatus() const {
  if (bindError_ == SQLITE_OK) return Status::Ok();
  return sqliteStatus(db_, bindError_, "bind");
}

Result<bool> Statement::step() {
  if (auto st = bindStatus(); !st.ok()) return st;
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqliteStatus(db_, rc, sqlite3_sql(stmt_.get()));
}

Status Statement::run() {
  auto r = step();
  if (!r.ok()) return r.status();
  return Status::Ok();
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  bindError_ = SQLITE_OK;
}

int64_t Statement::integer(int column) const {
  return sqlite3_column_int64(stmt_.get(), column);
}

std::string Statement::text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_.get(), column);
  int n = sqlite3_column_bytes(stmt_.get(), column);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

bool Statement::isNull(int column) const {
  return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

Result<Database> Database::open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Database db(raw);
  if (rc != SQLITE_OK) return sqliteStatus(raw, rc, "open " + path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 5000);
  // WAL: readers never block the writer; synchronous=NORMAL in WAL keeps the database
  // consistent after a crash (a kill -9 of the process loses nothing committed).
  // journal_size_limit: once a checkpoint let the WAL start over, its file is cut back to 1 MB
  // rather than keeping the size of the largest burst for ever.
  if (auto st = db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                        "PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=1048576;");
      !st.ok()) {
    return st;
  }
  return db;
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return sqliteStatus(db_.get(), rc, "prepare " + std::string(sql));
  }
  return Statement(db_.get(), stmt);
}

Status Database::exec(std::string_view sql) {
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

Status Database::transaction(const std::function<Status()>& body) {
  if (auto st = exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  Status st = body();
  if (st.ok()) st = exec("COMMIT");
  if (!st.ok()) {
    Status rb = exec("ROLLBACK");
    (void)rb;  // the original error is the one to report; a failed rollback leaves no txn open
  }
  return st;
}

}  // namespace boucle::store::sqlite
