#include "store/postgres/leadership.h"

#include "core/log.h"
#include "store/postgres/pg_connection.h"

namespace boucle::store::postgres {

namespace {
// The lock's key, boucle's own among the database's advisory locks (migrations use another).
constexpr const char* kLead = "7431806356";
}  // namespace

bool Leadership::check() {
  if (!conn_) {
    auto c = open(url_);
    if (!c.ok()) {
      // Said once, not at every heartbeat: without it, nothing polls or probes.
      if (c.status().message() != lastError_)
        logError("servers: cannot try to lead: " + c.status().message());
      lastError_ = c.status().message();
      leads_ = false;
      return false;
    }
    lastError_.clear();
    conn_ = std::move(c).value();
    // The lock lives as long as this session: if the leader's machine dies or is cut off,
    // PostgreSQL must notice within seconds (not its default two hours of TCP keepalive) for
    // another server to lead. No effect over a Unix socket, where a dead peer is seen at once.
    if (!conn_
             ->exec("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; "
                    "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 20000")
             .ok()) {
      conn_.reset();
      leads_ = false;
      return false;
    }
  }
  if (leads_) {
    // The lock lives as long as the session: an answer means it is still held.
    if (!conn_->exec("SELECT 1").ok()) leads_ = false;  // lost with the connection
    return leads_;
  }
  auto s = conn_->prepare(std::string("SELECT CASE WHEN pg_try_advisory_lock(") + kLead +
                          ") THEN 1 ELSE 0 END");
  if (!s.ok()) return false;
  auto row = s->step();
  leads_ = row.ok() && *row && s->integer(0) == 1;
  return leads_;
}

}  // namespace boucle::store::postgres
