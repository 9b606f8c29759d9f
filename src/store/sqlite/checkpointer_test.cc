#include "store/sqlite/checkpointer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "auth/tokens.h"

namespace boucle::store::sqlite {
namespace {

namespace fs = std::filesystem;

TEST(Checkpointer, MovesTheWalIntoTheDatabaseFileOnItsOwnThread) {
  fs::path dir = fs::temp_directory_path() / ("boucle-ckpt-" + auth::randomHex(6));
  fs::create_directories(dir);
  std::string path = (dir / "db").string();
  {
    // A connection of the test's own, set up as the store sets up its own, whose commits only
    // this Checkpointer watches.
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close_v2);
    auto exec = [&](const std::string& sql) {
      return sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, nullptr);
    };
    ASSERT_EQ(exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                   "PRAGMA journal_size_limit=1048576; CREATE TABLE t (v TEXT)"),
              SQLITE_OK);
    Checkpointer checkpoints(path);
    checkpoints.attach(db.get());
    std::string row(4000, 'x');
    // One commit per row, as the server commits, until the commit that takes the WAL to 1,000
    // pages (a WAL frame is a 24-byte header and a page, after a 32-byte file header): its
    // hook asks for the checkpoint, and nothing is written after it.
    constexpr uintmax_t kFull = 32 + Checkpointer::kPages * (24 + 4096u);
    int rows = 0;
    for (; fs::file_size(path + "-wal") < kFull && rows < 5000; ++rows) {
      ASSERT_EQ(exec("INSERT INTO t VALUES ('" + row + "')"), SQLITE_OK);
    }
    ASSERT_GE(fs::file_size(path + "-wal"), kFull);
    for (int i = 0; i < 10000 && checkpoints.done() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_GE(checkpoints.done(), 1);
    // The rows are in the database file itself now, not only in the WAL.
    EXPECT_GE(fs::file_size(path), rows * row.size());
    sqlite3_stmt* n = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db.get(), "SELECT count(*) FROM t", -1, &n, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(n), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(n, 0), rows);
    sqlite3_finalize(n);
    // The next write starts the WAL over, and its file is cut back (journal_size_limit).
    ASSERT_EQ(exec("INSERT INTO t VALUES ('after')"), SQLITE_OK);
    EXPECT_LE(fs::file_size(path + "-wal"), 1u << 20);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace boucle::store::sqlite
