#pragma once
// The PostgreSQL side of the SQL store: for a team whose servers share one database. libpq is
// loaded at the first connection (os/shared_library.h says why): a server on SQLite never
// maps it, nor the Kerberos and LDAP libraries it brings.

#include <memory>
#include <span>
#include <string>
#include <string_view>

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

// The schema's migrations (pg_schema.cc).
std::span<const char* const> migrations();

}  // namespace boucle::store::postgres
