#pragma once
// The PostgreSQL side of the SQL store: for a team whose servers share one database. libpq is
// loaded at the first connection (os/shared_library.h says why): a server on SQLite never
// maps it, nor the Kerberos and LDAP libraries it brings.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/sql/connection.h"

namespace boucle::store::postgres {

// Connects to `url` (postgres://USER@HOST[:PORT]/DB, or libpq's key=value form). A password
// comes from PGPASSFILE or ~/.pgpass, never from the URL: see checkUrl.
Result<std::unique_ptr<sql::Connection>> open(const std::string& url);

// Refuses a URL that carries a password (it would be on a command line, in `ps` and in shell
// histories) and anything but a PostgreSQL URL or key=value string.
Status checkUrl(const std::string& url);

// `url` fit to print: a password in its user part (scheme://user:PASSWORD@host) becomes ***.
std::string redactedUrl(std::string_view url);

// The store's `?` parameters as PostgreSQL's `$1`, `$2`, … (a `?` inside quotes or a `--`
// comment stays).
std::string numberedParameters(std::string_view sql);

// True for a URL `open` takes rather than a SQLite path.
bool isPostgresUrl(std::string_view url);

// A session of its own that hears the NOTIFYs of one channel and sends its own: how servers
// sharing a database tell each other what happened (store/postgres/bus.h). From one thread.
class Listener {
 public:
  virtual ~Listener() = default;
  // Readable when something arrived (poll it).
  virtual int fd() const = 0;
  // The payloads heard since the last call, oldest first; Io when the session is gone.
  virtual Result<std::vector<std::string>> take() = 0;
  // NOTIFY on the channel (every listening session hears it, this one too).
  virtual Status notify(std::string_view payload) = 0;
};
Result<std::unique_ptr<Listener>> listen(const std::string& url, const std::string& channel);

// The schema's migrations (pg_schema.cc).
std::span<const char* const> migrations();

}  // namespace boucle::store::postgres
