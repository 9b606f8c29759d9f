#include "store/postgres/pg_connection.h"

#include <libpq-fe.h>

#include <charconv>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "core/encoding.h"
#include "os/shared_library.h"

namespace boucle::store::postgres {

namespace {

struct PqApi {
  decltype(&PQconnectdbParams) connectdbParams;
  decltype(&PQcmdStatus) cmdStatus;
  decltype(&PQstatus) status;
  decltype(&PQerrorMessage) errorMessage;
  decltype(&PQfinish) finish;
  decltype(&PQreset) reset;
  decltype(&PQexec) exec;
  decltype(&PQexecParams) execParams;
  decltype(&PQresultStatus) resultStatus;
  decltype(&PQresultErrorField) errorField;
  decltype(&PQresultErrorMessage) resultErrorMessage;
  decltype(&PQclear) clear;
  decltype(&PQntuples) ntuples;
  decltype(&PQgetvalue) getvalue;
  decltype(&PQgetlength) getlength;
  decltype(&PQgetisnull) getisnull;
  decltype(&PQcmdTuples) cmdTuples;
  decltype(&PQsetNoticeProcessor) setNoticeProcessor;
  decltype(&PQconninfoParse) conninfoParse;
  decltype(&PQconninfoFree) conninfoFree;
  decltype(&PQfreemem) freemem;
  decltype(&PQnfields) nfields;
  decltype(&PQfname) fname;
  decltype(&PQftype) ftype;
  decltype(&PQsocket) socket;
  decltype(&PQconsumeInput) consumeInput;
  decltype(&PQnotifies) notifies;
};

Result<const PqApi*> loadPq() {
  static std::once_flag once;
  static PqApi api{};
  static std::string error;
  std::call_once(once, [] {
    os::SharedLibrary lib("libpq.so.5", "libpq5");
    lib.bind(api.connectdbParams, "PQconnectdbParams");
    lib.bind(api.cmdStatus, "PQcmdStatus");
    lib.bind(api.status, "PQstatus");
    lib.bind(api.errorMessage, "PQerrorMessage");
    lib.bind(api.finish, "PQfinish");
    lib.bind(api.reset, "PQreset");
    lib.bind(api.exec, "PQexec");
    lib.bind(api.execParams, "PQexecParams");
    lib.bind(api.resultStatus, "PQresultStatus");
    lib.bind(api.errorField, "PQresultErrorField");
    lib.bind(api.resultErrorMessage, "PQresultErrorMessage");
    lib.bind(api.clear, "PQclear");
    lib.bind(api.ntuples, "PQntuples");
    lib.bind(api.getvalue, "PQgetvalue");
    lib.bind(api.getlength, "PQgetlength");
    lib.bind(api.getisnull, "PQgetisnull");
    lib.bind(api.cmdTuples, "PQcmdTuples");
    lib.bind(api.setNoticeProcessor, "PQsetNoticeProcessor");
    lib.bind(api.conninfoParse, "PQconninfoParse");
    lib.bind(api.conninfoFree, "PQconninfoFree");
    lib.bind(api.freemem, "PQfreemem");
    lib.bind(api.nfields, "PQnfields");
    lib.bind(api.fname, "PQfname");
    lib.bind(api.ftype, "PQftype");
    lib.bind(api.socket, "PQsocket");
    lib.bind(api.consumeInput, "PQconsumeInput");
    lib.bind(api.notifies, "PQnotifies");
    error = lib.error();
  });
  if (!error.empty()) return Status::Internal(error);
  return &api;
}

// PostgreSQL's type numbers (pg_type.oid) for the parameters boucle binds.
constexpr Oid kInt8 = 20;
constexpr Oid kInt2 = 21;
constexpr Oid kInt4 = 23;
constexpr Oid kText = 25;

// The store writes SQLite's `?`; PostgreSQL numbers its parameters: `$1`, `$2`, … A `?`
// inside a quoted literal or name, or in a `--` comment, is text and stays. (The store's SQL
// uses neither E'' strings nor $$ quoting.)
std::string numbered(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  char until = 0;  // the character that ends the quote or comment we are in
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (until) {
      if (c == until) until = 0;
    } else if (c == '\'' || c == '"') {
      until = c;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      until = '\n';
    } else if (c == '?') {
      out += '$' + std::to_string(++n);
      continue;
    }
    out += c;
  }
  return out;
}

// libpq's message ends with a newline and may span lines: one line for a Status.
std::string oneLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

Status statusFor(std::string_view sqlState, std::string msg) {
  std::string_view cls = sqlState.substr(0, 2);
  if (cls == "23") return Status::Conflict(std::move(msg));  // integrity constraint
  if (sqlState == "40001" || sqlState == "40P01") return Status::Timeout(std::move(msg));
  if (cls == "08" || cls == "53" || cls == "57" || cls == "58") return Status::Io(std::move(msg));
  return Status::Internal(std::move(msg));
}

using ResultPtr = std::unique_ptr<PGresult, void (*)(PGresult*)>;

class PgConnection;

class PgCursor : public sql::Cursor {
 public:
  PgCursor(PgConnection& conn, std::string sql) : conn_(conn), sql_(std::move(sql)) {}

  void bindInt(int index, int64_t v) override { set(index, std::to_string(v), kInt8); }
  void bindText(int index, std::string_view v) override {
    set(index, isCleanUtf8(v) ? std::string(v) : cleanUtf8(v), kText);
  }
  void bindNull(int index) override {
    if (index < 1) return;
    grow(index);
    values_[static_cast<size_t>(index - 1)].reset();
    types_[static_cast<size_t>(index - 1)] = 0;
  }

  Result<bool> step() override;

  void reset() override {
    result_.reset();
    row_ = -1;
    rows_ = 0;
    values_.clear();
    types_.clear();
  }

  int64_t integer(int column) const override {
    const char* p = value(column);
    if (!p) return 0;
    int64_t v = 0;
    std::from_chars(p, p + length(column), v);
    return v;
  }
  std::string text(int column) const override {
    const char* p = value(column);
    return p ? std::string(p, static_cast<size_t>(length(column))) : std::string();
  }
  bool isNull(int column) const override;
  int columnCount() const override;
  std::string columnName(int column) const override;
  bool isInteger(int column) const override;

 private:
  void grow(int index) {
    if (values_.size() < static_cast<size_t>(index)) {
      values_.resize(static_cast<size_t>(index));
      types_.resize(static_cast<size_t>(index), 0);
    }
  }
  void set(int index, std::string v, Oid type) {
    if (index < 1) return;
    grow(index);
    values_[static_cast<size_t>(index - 1)] = std::move(v);
    types_[static_cast<size_t>(index - 1)] = type;
  }
  const char* value(int column) const;
  int length(int column) const;

  PgConnection& conn_;
  std::string sql_;
  std::vector<std::optional<std::string>> values_;
  std::vector<Oid> types_;
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_{nullptr, nullptr};
  int row_ = -1;
  int rows_ = 0;
};

class PgConnection : public sql::Connection {
 public:
  PgConnection(const PqApi& pq, PGconn* conn) : pq_(pq), conn_(conn) {
    // NOTICEs ("relation exists, skipping") would go to stderr.
    pq_.setNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
  }
  ~PgConnection() override { pq_.finish(conn_); }

  const PqApi& pq() const { return pq_; }
  PGconn* raw() const { return conn_; }

  sql::Dialect dialect() const override { return sql::Dialect::kPostgres; }

  Result<sql::Statement> prepare(std::string_view sql) override {
    return sql::Statement(std::make_unique<PgCursor>(*this, numbered(sql)));
  }

  Status exec(std::string_view sql) override {
    auto r = run(std::string(sql), {}, {});
    return r.ok() ? Status::Ok() : r.status();
  }

  // SERIALIZABLE: PostgreSQL lets transactions run side by side (several servers, one
  // database) and stops one whose reads another's writes made stale; it is then run again, as
  // SQLite's single writer would have run it after the other.
  Status transaction(const std::function<Status()>& body) override {
    // PostgreSQL only warns of a BEGIN inside a transaction, and the inner COMMIT would end the
    // outer one early.
    if (inTransaction_) return Status::Internal("a transaction inside a transaction");
    constexpr int kTries = 20;
    thread_local std::minstd_rand jitter{std::random_device{}()};
    for (int attempt = 1;; ++attempt) {
      mustRetry_ = false;
      if (auto st = exec("BEGIN ISOLATION LEVEL SERIALIZABLE"); !st.ok()) return st;
      inTransaction_ = true;
      Status st = body();
      if (st.ok()) st = commit();
      if (!st.ok()) {
        Status rb = exec("ROLLBACK");
        (void)rb;  // the original error is the one to report
      }
      inTransaction_ = false;
      if (st.ok() || !mustRetry_ || attempt == kTries) return st;
      std::this_thread::sleep_for(std::chrono::microseconds(jitter() % (200 * attempt)));
    }
  }

  // COMMIT of a transaction a failed statement aborted succeeds, and says ROLLBACK: that is a
  // failure here, whatever the body made of the statement's error.
  Status commit() {
    auto r = run("COMMIT", {}, {});
    if (!r.ok()) return r.status();
    std::string_view tag = pq_.cmdStatus(r->get());
    if (tag != "COMMIT")
      return Status::Internal("PostgreSQL rolled the transaction back (" + std::string(tag) + ")");
    return Status::Ok();
  }

  int64_t changes() const override { return changes_; }
  int64_t totalChanges() const override { return written_; }

  // The version lives in a table of its own; an advisory lock held for the session keeps two
  // servers starting at once from both applying the same migration.
  Status migrate() override {
    if (auto st = exec("SELECT pg_advisory_lock(7431806355)"); !st.ok()) return st;
    Status st = [&]() -> Status {
      if (auto e = exec("CREATE TABLE IF NOT EXISTS boucle_schema (version BIGINT NOT NULL)");
          !e.ok())
        return e;
      auto q = prepare("SELECT COALESCE(MAX(version), 0) FROM boucle_schema");
      if (!q.ok()) return q.status();
      auto row = q->step();
      if (!row.ok()) return row.status();
      return sql::applyMigrations(
          *this, q->integer(0), postgres::migrations(), [this](int64_t v) -> Status {
            if (auto e = exec("DELETE FROM boucle_schema"); !e.ok()) return e;
            return exec("INSERT INTO boucle_schema (version) VALUES (" + std::to_string(v) + ")");
          });
    }();
    Status unlock = exec("SELECT pg_advisory_unlock(7431806355)");
    return st.ok() ? unlock : st;
  }

  // Every server's writes count: triggers on each table but the monitors' advance a sequence
  // (pg_schema.cc), which every server reads.
  uint64_t revision(int64_t) override {
    // A fresh sequence says 1 both before and after its first nextval: is_called tells.
    auto r =
        run("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM boucle_revision", {}, {});
    if (!r.ok() || pq_.ntuples(r->get()) != 1) return ++failedRevision_;  // never a stale hit
    const char* p = pq_.getvalue(r->get(), 0, 0);
    uint64_t v = 0;
    std::from_chars(p, p + pq_.getlength(r->get(), 0, 0), v);
    return v;
  }

  // PostgreSQL checks its own pages (with checksums when the cluster was made with them); what
  // boucle can check from here is that every table answers.
  Result<std::string> integrityCheck() override {
    for (const char* table : {"projects", "runs", "jobs", "releases", "deploys", "incidents"}) {
      if (auto st = exec(std::string("SELECT 1 FROM ") + table + " LIMIT 1"); !st.ok()) return st;
    }
    return std::string("ok");
  }

  // Runs `sql` with its parameters (text, or null where `values[i]` is empty).
  Result<ResultPtr> run(const std::string& sql,
                        const std::vector<std::optional<std::string>>& values,
                        const std::vector<Oid>& types) {
    std::vector<const char*> ptrs;
    ptrs.reserve(values.size());
    for (const auto& v : values) ptrs.push_back(v ? v->c_str() : nullptr);
    PGresult* raw = values.empty()
                        ? pq_.exec(conn_, sql.c_str())
                        : pq_.execParams(conn_, sql.c_str(), static_cast<int>(values.size()),
                                         types.data(), ptrs.data(), nullptr, nullptr, 0);
    ResultPtr res(raw, pq_.clear);
    ExecStatusType st = res ? pq_.resultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      // SQLite counts the rows a write changed, and a read leaves the count alone.
      if (isWrite(sql)) {
        const char* n = pq_.cmdTuples(res.get());
        int64_t count = 0;
        if (n) std::from_chars(n, n + std::char_traits<char>::length(n), count);
        changes_ = count;
        written_ += count;
      }
      return res;
    }
    std::string state;
    std::string msg;
    if (res) {
      const char* s = pq_.errorField(res.get(), PG_DIAG_SQLSTATE);
      state = s ? s : "";
      // The primary message only: DETAIL may quote a row's values ("Failing row contains
      // …"), which must not reach an API answer.
      const char* primary = pq_.errorField(res.get(), PG_DIAG_MESSAGE_PRIMARY);
      msg = oneLine(primary ? primary : "");
    }
    if (msg.empty()) msg = oneLine(pq_.errorMessage(conn_));
    if (state == "40001" || state == "40P01") mustRetry_ = true;
    // A run's number is MAX + 1 in its project: two servers numbering at once collide on the
    // key, which SERIALIZABLE reports as 23505 (the key itself was not read first). Run again,
    // the transaction sees the other's run. Other unique keys taken are conflicts, at once.
    if (inTransaction_ && state == "23505") {
      const char* constraint = pq_.errorField(res.get(), PG_DIAG_CONSTRAINT_NAME);
      if (constraint && std::string_view(constraint) == "runs_project_number_key")
        mustRetry_ = true;
    }
    if (pq_.status(conn_) == CONNECTION_BAD) {
      // The server went away (restarted, network cut): this call fails, and the connection
      // is made again for the next one. A transaction it was in is gone with it.
      pq_.reset(conn_);
      return Status::Io("PostgreSQL: " + msg);
    }
    return statusFor(state, "PostgreSQL: " + msg);
  }

 private:
  static bool isWrite(std::string_view sql) {
    auto first = sql.substr(0, 6);
    return first == "INSERT" || first == "UPDATE" || first == "DELETE";
  }

  const PqApi& pq_;
  PGconn* conn_;
  int64_t changes_ = 0;
  int64_t written_ = 0;
  bool mustRetry_ = false;
  bool inTransaction_ = false;
  uint64_t failedRevision_ = uint64_t{1} << 62;
};

Result<bool> PgCursor::step() {
  if (!result_) {
    auto r = conn_.run(sql_, values_, types_);
    if (!r.ok()) return r.status();
    result_ = std::move(r).value();
    rows_ = conn_.pq().ntuples(result_.get());
    row_ = -1;
  }
  if (row_ + 1 >= rows_) {
    row_ = rows_;
    return false;
  }
  ++row_;
  return true;
}

const char* PgCursor::value(int column) const {
  if (!result_ || row_ < 0 || row_ >= rows_) return nullptr;
  return conn_.pq().getvalue(result_.get(), row_, column);
}

int PgCursor::length(int column) const {
  return conn_.pq().getlength(result_.get(), row_, column);
}

int PgCursor::columnCount() const {
  return result_ ? conn_.pq().nfields(result_.get()) : 0;
}

std::string PgCursor::columnName(int column) const {
  const char* n = result_ ? conn_.pq().fname(result_.get(), column) : nullptr;
  return n ? n : "";
}

bool PgCursor::isInteger(int column) const {
  if (!result_) return false;
  Oid t = conn_.pq().ftype(result_.get(), column);
  return t == kInt8 || t == kInt4 || t == kInt2;
}

bool PgCursor::isNull(int column) const {
  if (!result_ || row_ < 0 || row_ >= rows_) return true;
  return conn_.pq().getisnull(result_.get(), row_, column) != 0;
}

}  // namespace

std::string numberedParameters(std::string_view sql) {
  return numbered(sql);
}

std::string redactedUrl(std::string_view url) {
  std::string out(url);
  size_t scheme = out.find("://");
  if (scheme == std::string::npos) return out;
  size_t start = scheme + 3;
  size_t at = out.find('@', start);
  size_t slash = out.find('/', start);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return out;
  size_t colon = out.find(':', start);
  if (colon == std::string::npos || colon > at) return out;
  return out.replace(colon + 1, at - colon - 1, "***");
}

bool isPostgresUrl(std::string_view url) {
  return url.starts_with("postgres://") || url.starts_with("postgresql://");
}

Status checkUrl(const std::string& url) {
  if (!isPostgresUrl(url))
    return Status::Invalid("not a PostgreSQL URL (postgres://USER@HOST/DB): " + redactedUrl(url));
  auto pq = loadPq();
  if (!pq.ok()) return pq.status();
  char* err = nullptr;
  PQconninfoOption* opts = (*pq)->conninfoParse(url.c_str(), &err);
  if (!opts) {
    std::string msg = err ? oneLine(err) : "cannot parse it";
    if (err) (*pq)->freemem(err);
    return Status::Invalid("the database URL: " + msg);
  }
  bool password = false;
  for (auto* o = opts; o->keyword; ++o) {
    std::string_view k = o->keyword;
    if ((k == "password" || k == "sslpassword") && o->val && *o->val) password = true;
  }
  (*pq)->conninfoFree(opts);
  if (password) {
    return Status::Invalid(
        "the database URL holds a password, which would show in `ps` and shell histories: "
        "leave it out and put it in a password file (~/.pgpass, or the file PGPASSFILE "
        "names, mode 0600)");
  }
  return Status::Ok();
}

namespace {

class PgListener : public Listener {
 public:
  explicit PgListener(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}

  int fd() const override { return conn_->pq().socket(conn_->raw()); }

  Result<std::vector<std::string>> take() override {
    const PqApi& pq = conn_->pq();
    if (pq.consumeInput(conn_->raw()) == 0 || pq.status(conn_->raw()) != CONNECTION_OK)
      return Status::Io("PostgreSQL: " + oneLine(pq.errorMessage(conn_->raw())));
    std::vector<std::string> out;
    while (PGnotify* n = pq.notifies(conn_->raw())) {
      out.emplace_back(n->extra ? n->extra : "");
      pq.freemem(n);
    }
    return out;
  }

  Status notify(std::string_view payload) override {
    auto r =
        conn_->run("SELECT pg_notify($1, $2)", {channel, std::string(payload)}, {kText, kText});
    return r.ok() ? Status::Ok() : r.status();
  }

  std::string channel;

 private:
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace

Result<std::unique_ptr<Listener>> listen(const std::string& url, const std::string& channel) {
  auto c = open(url);
  if (!c.ok()) return c.status();
  std::unique_ptr<PgConnection> conn(static_cast<PgConnection*>(c->release()));
  // A link that died silently must end this session within seconds, not hours (TCP's
  // default), for the bus to notice and connect again. No effect over a Unix socket.
  if (auto st = conn->exec("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; "
                           "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 20000");
      !st.ok())
    return st;
  // The channel is boucle's own name, never a user's: quoted as a name all the same.
  if (auto st = conn->exec("LISTEN \"" + channel + "\""); !st.ok()) return st;
  auto l = std::make_unique<PgListener>(std::move(conn));
  l->channel = channel;
  return std::unique_ptr<Listener>(std::move(l));
}

Result<std::unique_ptr<sql::Connection>> open(const std::string& url) {
  if (auto st = checkUrl(url); !st.ok()) return st;
  auto pq = loadPq();
  if (!pq.ok()) return pq.status();
  // The URL, then what boucle insists on: text in UTF-8 whatever the database's locale, and a
  // bound on how long a connection (or a reconnection, PQreset reuses these) may take.
  const char* keys[] = {"dbname", "client_encoding", "connect_timeout", "keepalives_idle", nullptr};
  const char* values[] = {url.c_str(), "UTF8", "10", "30", nullptr};
  PGconn* conn = (*pq)->connectdbParams(keys, values, 1);
  if (!conn) return Status::Internal("PostgreSQL: out of memory");
  if ((*pq)->status(conn) != CONNECTION_OK) {
    std::string msg = oneLine((*pq)->errorMessage(conn));
    (*pq)->finish(conn);
    return Status::Io("cannot connect to PostgreSQL: " + msg);
  }
  return std::unique_ptr<sql::Connection>(std::make_unique<PgConnection>(**pq, conn));
}

}  // namespace boucle::store::postgres
