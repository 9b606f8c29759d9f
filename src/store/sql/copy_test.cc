// `boucle migrate`'s copy, SQLite to a real PostgreSQL (the tests start one): what a table's
// ids promise survives the move.
#include "store/sql/copy.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "store/postgres/test_cluster.h"
#include "store/store.h"

namespace boucle::store::sql {
namespace {

namespace fs = std::filesystem;

TEST(CopyTest, IdsNeverGivenAgainOnSqliteAreNotGivenAgainAfterTheMove) {
  char t[] = "/tmp/boucle-copy-XXXXXX";
  fs::path dir = mkdtemp(t);
  std::string sqlitePath = (dir / "boucle.db").string();
  int64_t highest = 0;
  {
    auto s = openSqliteStore(sqlitePath);
    ASSERT_TRUE(s.ok()) << s.status().message();
    for (const char* name : {"web", "gone"}) {
      Project p;
      p.name = name;
      p.url = "/srv/git/x";
      ASSERT_TRUE((*s)->addProject(p).ok());
    }
    ASSERT_TRUE((*s)->monitorSeries({0, "web", "prod", "health", "", "1.0.0"}).ok());
    for (int i = 0; i < 3; ++i) {
      auto id = (*s)->monitorSeries({0, "gone", "prod", "health", "", std::to_string(i)});
      ASSERT_TRUE(id.ok());
      highest = *id;
    }
    // The project goes, its series with it; their samples would still name their ids.
    ASSERT_TRUE((*s)->removeProject("gone").ok());
  }
  auto url = postgres::newTestDatabase();
  ASSERT_TRUE(url.ok()) << url.status().message();
  {
    auto from = connect("sqlite:" + sqlitePath, true);
    auto to = connect(*url, false);
    ASSERT_TRUE(from.ok() && to.ok());
    auto report = copyDatabase(**from, **to, nullptr);
    ASSERT_TRUE(report.ok()) << report.status().message();
    EXPECT_TRUE(report->differences.empty());
  }
  auto pg = openPostgresStore(*url);
  ASSERT_TRUE(pg.ok());
  auto fresh = (*pg)->monitorSeries({0, "web", "prod", "health", "", "2.0.0"});
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_GT(*fresh, highest) << "a series id SQLite had given and taken back came again";
  // And ordinary tables go on after their largest id, as SQLite's do.
  Project next;
  next.name = "next";
  next.url = "/srv/git/y";
  auto added = (*pg)->addProject(next);
  ASSERT_TRUE(added.ok()) << added.status().message();
  EXPECT_EQ(added->id, 2);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace boucle::store::sql
