#pragma once
// The SQLite side of the SQL store: the embedded default, one file in the data folder.

#include <memory>
#include <span>
#include <string>

#include "store/sql/connection.h"

namespace boucle::store::sqlite {

// Opens (creating) the database at `path` in WAL mode, with foreign keys on, a busy timeout
// and its checkpoints on a thread of their own.
Result<std::unique_ptr<sql::Connection>> open(const std::string& path);

// The schema's migrations (sqlite_schema.cc).
std::span<const char* const> migrations();

}  // namespace boucle::store::sqlite
