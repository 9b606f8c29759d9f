#include "store/postgres/pg_connection.h"

#include <gtest/gtest.h>

namespace boucle::store::postgres {
namespace {

TEST(PgConnection, ParametersAreNumberedOutsideQuotesAndComments) {
  EXPECT_EQ(numberedParameters("SELECT a FROM t WHERE b = ? AND c = ?"),
            "SELECT a FROM t WHERE b = $1 AND c = $2");
  EXPECT_EQ(numberedParameters("SELECT '?', \"we?ird\" FROM t WHERE x = ?"),
            "SELECT '?', \"we?ird\" FROM t WHERE x = $1");
  EXPECT_EQ(numberedParameters("SELECT 'it''s ?' WHERE y = ?"), "SELECT 'it''s ?' WHERE y = $1");
  EXPECT_EQ(numberedParameters("-- don't ask ?\nSELECT ? -- why?\n, ?"),
            "-- don't ask ?\nSELECT $1 -- why?\n, $2");
}

TEST(PgConnection, APasswordIsNeverPrintedNorTakenFromTheUrl) {
  EXPECT_EQ(redactedUrl("postgres://ci:hunter2@db.example/boucle"),
            "postgres://ci:***@db.example/boucle");
  EXPECT_EQ(redactedUrl("mysql+x://u:p@h/d"), "mysql+x://u:***@h/d");
  EXPECT_EQ(redactedUrl("postgres://ci@db/boucle?host=/run/a:b@c"),
            "postgres://ci@db/boucle?host=/run/a:b@c");
  EXPECT_EQ(redactedUrl("sqlite:/var/lib/boucle/boucle.db"), "sqlite:/var/lib/boucle/boucle.db");

  EXPECT_TRUE(checkUrl("postgres://ci@db.example/boucle?sslmode=verify-full").ok());
  for (const char* url : {"postgres://ci:hunter2@db/boucle", "postgres://ci@db/boucle?password=x",
                          "postgresql://ci@db/boucle?sslpassword=x"}) {
    Status st = checkUrl(url);
    EXPECT_FALSE(st.ok()) << url;
    EXPECT_NE(st.message().find("password file"), std::string::npos) << st.message();
    EXPECT_EQ(st.message().find("hunter2"), std::string::npos);
  }
  EXPECT_EQ(checkUrl("mysql://u:hunter2@h/d").message().find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace boucle::store::postgres
