#include "store/sql/connection.h"

namespace boucle::store::sql {

Status applyMigrations(Connection& db, int64_t from, std::span<const char* const> migrations,
                       const std::function<Status(int64_t)>& setVersion) {
  auto target = static_cast<int64_t>(migrations.size());
  if (from > target) {
    return Status::Invalid("the database's schema (version " + std::to_string(from) +
                           ") is newer than this boucle knows (" + std::to_string(target) +
                           "): upgrade boucle");
  }
  for (int64_t v = from; v < target; ++v) {
    Status st = db.transaction([&] {
      if (auto s = db.exec(migrations[static_cast<size_t>(v)]); !s.ok()) return s;
      return setVersion(v + 1);
    });
    if (!st.ok())
      return Status::Internal("migration " + std::to_string(v + 1) + ": " + st.message());
  }
  return Status::Ok();
}

}  // namespace boucle::store::sql
