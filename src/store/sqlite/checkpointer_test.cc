#include "store/sqlite/checkpointer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "auth/tokens.h"
#include "store/sqlite/database.h"

namespace boucle::store::sqlite {
namespace {

namespace fs = std::filesystem;

TEST(Checkpointer, MovesTheWalIntoTheDatabaseFileOnItsOwnThread) {
  fs::path dir = fs::temp_directory_path() / ("boucle-ckpt-" + auth::randomHex(6));
  fs::create_directories(dir);
  std::string path = (dir / "db").string();
  {
    auto db = Database::open(path);
    ASSERT_TRUE(db.ok()) << db.status().message();
    Checkpointer checkpoints(path);
    checkpoints.attach(db->handle());
    ASSERT_TRUE(db->exec("CREATE TABLE t (v TEXT)").ok());
    std::string row(4000, 'x');
    // One commit per row, as the server commits, until the commit that takes the WAL to 1,000
    // pages (a WAL frame is a 24-byte header and a page, after a 32-byte file header): its
    // hook asks for the checkpoint, and nothing is written after it.
    constexpr uintmax_t kFull = 32 + Checkpointer::kPages * (24 + 4096u);
    int rows = 0;
    for (; fs::file_size(path + "-wal") < kFull && rows < 5000; ++rows) {
      auto s = db->prepare("INSERT INTO t VALUES (?)");
      ASSERT_TRUE(s.ok());
      s->bind(1, row);
      ASSERT_TRUE(s->run().ok());
    }
    ASSERT_GE(fs::file_size(path + "-wal"), kFull);
    for (int i = 0; i < 10000 && checkpoints.done() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_GE(checkpoints.done(), 1);
    // The rows are in the database file itself now, not only in the WAL.
    EXPECT_GE(fs::file_size(path), rows * row.size());
    auto n = db->prepare("SELECT count(*) FROM t");
    ASSERT_TRUE(n.ok() && *n->step());
    EXPECT_EQ(n->integer(0), rows);
    // The next write starts the WAL over, and its file is cut back (journal_size_limit).
    ASSERT_TRUE(db->exec("INSERT INTO t VALUES ('after')").ok());
    EXPECT_LE(fs::file_size(path + "-wal"), 1u << 20);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace boucle::store::sqlite
