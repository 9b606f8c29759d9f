// The Store over SQL: people and their sign-in sessions.
#include "core/clock.h"
#include "store/sql/sql_store.h"

namespace boucle::store {

namespace {

constexpr const char* kUserColumns =
    "id, name, roles, password_hash, disabled, created_at, created_by";

User readUser(const Statement& s) {
  User u;
  u.id = s.integer(0);
  u.name = s.text(1);
  u.roles = s.text(2);
  u.passwordHash = s.text(3);
  u.disabled = s.integer(4) != 0;
  u.createdAt = s.integer(5);
  u.createdBy = s.text(6);
  return u;
}

constexpr const char* kSessionColumns =
    "id, user_name, created_at, seen_at, expires_at, address, agent";

Session readSession(const Statement& s) {
  Session out;
  out.id = s.text(0);
  out.user = s.text(1);
  out.createdAt = s.integer(2);
  out.seenAt = s.integer(3);
  out.expiresAt = s.integer(4);
  out.address = s.text(5);
  out.agent = s.text(6);
  return out;
}

}  // namespace

Result<User> SqlStore::addUser(const User& u) {
  std::lock_guard lock(mu_);
  User out = u;
  out.createdAt = nowMs();
  Status st = db_.transaction([&]() -> Status {
    auto exists = db_.prepare("SELECT 1 FROM users WHERE name = ?");
    if (!exists.ok()) return exists.status();
    exists->bind(1, u.name);
    auto row = exists->step();
    if (!row.ok()) return row.status();
    if (*row) return Status::Conflict("a person named '" + u.name + "' exists");
    auto s = db_.prepare(
        "INSERT INTO users (name, roles, password_hash, disabled, created_at, created_by) VALUES "
        "(?, ?, ?, ?, ?, ?) RETURNING id");
    if (!s.ok()) return s.status();
    s->bind(1, u.name).bind(2, u.roles).bind(3, u.passwordHash);
    s->bind(4, int64_t{u.disabled ? 1 : 0}).bind(5, out.createdAt).bind(6, u.createdBy);
    auto id = sql::insertedId(*s);
    if (!id.ok()) return id.status();
    out.id = *id;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<User>> SqlStore::findUser(std::string_view name) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kUserColumns + " FROM users WHERE name = ?");
  if (!s.ok()) return s.status();
  s->bind(1, name);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<User>();
  return std::optional<User>(readUser(*s));
}

Result<std::vector<User>> SqlStore::listUsers() {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kUserColumns + " FROM users ORDER BY name");
  if (!s.ok()) return s.status();
  return readAll(*s, readUser);
}

Status SqlStore::updateUser(const User& u) {
  std::lock_guard lock(mu_);
  auto s =
      db_.prepare("UPDATE users SET roles = ?, password_hash = ?, disabled = ? WHERE name = ?");
  if (!s.ok()) return s.status();
  s->bind(1, u.roles).bind(2, u.passwordHash).bind(3, int64_t{u.disabled ? 1 : 0}).bind(4, u.name);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() == 0) return Status::NotFound("no person named " + u.name);
  return Status::Ok();
}

Status SqlStore::addSession(const Session& session, std::string_view hash) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(
      "INSERT INTO sessions (hash, id, user_name, created_at, seen_at, expires_at, address, "
      "agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  s->bind(1, hash).bind(2, session.id).bind(3, session.user).bind(4, session.createdAt);
  s->bind(5, session.seenAt).bind(6, session.expiresAt).bind(7, session.address);
  s->bind(8, session.agent);
  return s->run();
}

Result<std::optional<Session>> SqlStore::findSession(std::string_view hash) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kSessionColumns + " FROM sessions WHERE hash = ?");
  if (!s.ok()) return s.status();
  s->bind(1, hash);
  auto row = s->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Session>();
  return std::optional<Session>(readSession(*s));
}

Result<std::vector<Session>> SqlStore::listSessions(std::string_view user) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare(std::string("SELECT ") + kSessionColumns +
                       " FROM sessions WHERE (? = '' OR user_name = ?) ORDER BY seen_at DESC");
  if (!s.ok()) return s.status();
  s->bind(1, user).bind(2, user);
  return readAll(*s, readSession);
}

Status SqlStore::removeSession(std::string_view id) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("DELETE FROM sessions WHERE id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, id);
  if (auto st = s->run(); !st.ok()) return st;
  if (db_.changes() == 0) return Status::NotFound("no session " + std::string(id));
  return Status::Ok();
}

Status SqlStore::removeSessionsOf(std::string_view user) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("DELETE FROM sessions WHERE user_name = ?");
  if (!s.ok()) return s.status();
  s->bind(1, user);
  return s->run();
}

Status SqlStore::touchSession(std::string_view id, int64_t atMs) {
  std::lock_guard lock(mu_);
  auto s = db_.prepare("UPDATE sessions SET seen_at = ? WHERE id = ?");
  if (!s.ok()) return s.status();
  s->bind(1, atMs).bind(2, id);
  return s->run();
}

}  // namespace boucle::store
