#pragma once
// What the SQL store needs of a database, whichever it is: SQLite (store/sqlite/, the embedded
// default) or PostgreSQL (store/postgres/). The store's queries are written once, in the SQL
// both speak (`?` parameters, ON CONFLICT, RETURNING); the few places where they differ ask
// the connection's dialect. Every call returns a Status: no database error is ever dropped.
// One Connection is one session; it is not shared between threads without a lock.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace boucle::store::sql {

enum class Dialect { kSqlite, kPostgres };

// A backend's prepared query: parameters are numbered from 1, columns from 0.
class Cursor {
 public:
  virtual ~Cursor() = default;
  virtual void bindInt(int index, int64_t v) = 0;
  virtual void bindText(int index, std::string_view v) = 0;
  virtual void bindNull(int index) = 0;
  // Advances to the next row: true with a row, false when done; errors are a Status.
  virtual Result<bool> step() = 0;
  // Ready to run again with new bindings (a batch of inserts prepared once).
  virtual void reset() = 0;
  virtual int64_t integer(int column) const = 0;
  virtual std::string text(int column) const = 0;
  virtual bool isNull(int column) const = 0;
  // What a row is made of, for code that copies whole tables (`boucle migrate`).
  virtual int columnCount() const = 0;
  virtual std::string columnName(int column) const = 0;
  // Whether the value (SQLite types values) or its column (PostgreSQL types columns) is an
  // integer rather than text.
  virtual bool isInteger(int column) const = 0;
};

class Statement {
 public:
  explicit Statement(std::unique_ptr<Cursor> c) : c_(std::move(c)) {}

  Statement& bind(int index, int64_t v) {
    c_->bindInt(index, v);
    return *this;
  }
  Statement& bind(int index, std::string_view v) {
    c_->bindText(index, v);
    return *this;
  }
  Statement& bindNull(int index) {
    c_->bindNull(index);
    return *this;
  }
  Statement& bind(int index, const std::optional<int64_t>& v) {
    return v ? bind(index, *v) : bindNull(index);
  }

  Result<bool> step() { return c_->step(); }
  // Runs a statement that returns no rows.
  Status run() {
    auto r = step();
    return r.ok() ? Status::Ok() : r.status();
  }
  void reset() { c_->reset(); }

  int64_t integer(int column) const { return c_->integer(column); }
  std::string text(int column) const { return c_->text(column); }
  bool isNull(int column) const { return c_->isNull(column); }
  int columnCount() const { return c_->columnCount(); }
  std::string columnName(int column) const { return c_->columnName(column); }
  bool isInteger(int column) const { return c_->isInteger(column); }

 private:
  std::unique_ptr<Cursor> c_;
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;

  virtual Result<Statement> prepare(std::string_view sql) = 0;
  // One or more statements, without parameters or results.
  virtual Status exec(std::string_view sql) = 0;
  // Runs `body` in a transaction that sees and makes no change another one could interleave
  // with: committed when it returns Ok, rolled back otherwise. A backend may run `body` again
  // when the database chose it to give way to another transaction, so `body` assigns its
  // results rather than adding to them.
  virtual Status transaction(const std::function<Status()>& body) = 0;
  // Rows the last statement inserted, updated or deleted.
  virtual int64_t changes() const = 0;

  // Brings the schema to the newest this boucle knows, applying the backend's numbered
  // migrations that are still pending (each in a transaction), or says why it cannot.
  virtual Status migrate() = 0;

  // Changes whenever a table other than the monitors' is written, by any writer of the
  // database: readers cache answers while it stays the same. `monitorChanges` are rows this
  // connection wrote to monitor tables, for a backend that cannot tell them apart itself.
  virtual uint64_t revision(int64_t monitorChanges) = 0;
  // Rows written through this connection so far (to count the monitors' writes).
  virtual int64_t totalChanges() const = 0;

  // "ok", or what the database's own check found.
  virtual Result<std::string> integrityCheck() = 0;
  // Gives back cache memory held in this process.
  virtual void releaseMemory() {}
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

inline std::optional<int64_t> optInt(const Statement& s, int col) {
  if (s.isNull(col)) return std::nullopt;
  return s.integer(col);
}

// Applies `migrations[from..]` one by one, each with `setVersion` in its transaction.
Status applyMigrations(Connection& db, int64_t from, std::span<const char* const> migrations,
                       const std::function<Status(int64_t)>& setVersion);

// The id an `INSERT … RETURNING id` gave its row.
inline Result<int64_t> insertedId(Statement& s) {
  auto row = s.step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::Internal("an insert returned no id");
  return s.integer(0);
}

}  // namespace boucle::store::sql
