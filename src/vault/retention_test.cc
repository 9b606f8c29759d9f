#include "vault/retention.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "auth/tokens.h"
#include "core/clock.h"
#include "vault/blob_store.h"

namespace boucle::vault {
namespace {
namespace fs = std::filesystem;

constexpr int64_t kDay = 24 * 3600 * 1000LL;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("boucle-retention-" + auth::randomHex(6));
    fs::create_directories(dir_);
    store_ = std::move(store::openSqliteStore((dir_ / "db").string())).value();
    now_ = nowMs();
    store::Project p;
    p.name = "web";
    p.url = "/srv/web";
    ASSERT_TRUE(store_->addProject(p).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A blob of `bytes` bytes stored `ageDays` ago, used by a run that finished then.
  std::string artifact(const std::string& text, int ageDays) {
    fs::path f = dir_ / ("in-" + std::to_string(runs_.size()));
    std::ofstream(f) << text;
    auto ref = BlobStore(dir_ / "blobs").putFile(f);
    EXPECT_TRUE(ref.ok());
    int64_t at = now_ - ageDays * kDay;
    timespec times[2] = {{at / 1000, 0}, {at / 1000, 0}};
    ::utimensat(AT_FDCWD, BlobStore(dir_ / "blobs").pathOf(ref->sha256).c_str(), times, 0);
    store::Run r;
    r.project = "web";
    r.ref = "main";
    r.queuedAt = at;
    auto run = store_->createRun(r).value();
    run.state = store::RunState::kPassed;
    run.finishedAt = at;
    EXPECT_TRUE(store_->updateRun(run).ok());
    store::JobRecord j;
    j.runId = run.id;
    j.name = "build";
    j.state = "passed";
    j.artifactsJson = "[{\"path\": \"a\", \"sha256\": \"" + ref->sha256 +
                      "\", \"size\": " + std::to_string(text.size()) + "}]";
    EXPECT_TRUE(store_->saveJob(j).ok());
    runs_.push_back(run.id);
    return ref->sha256;
  }
  bool present(const std::string& sha) { return BlobStore(dir_ / "blobs").contains(sha); }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  int64_t now_ = 0;
  std::vector<int64_t> runs_;
};

TEST_F(RetentionTest, OldUnreleasedArtifactsGoReleasedAndRecentOnesStay) {
  std::string old = artifact("old build", 40);
  std::string released = artifact("released build", 50);
  std::string recent = artifact("recent build", 3);
  store::Release rel;
  rel.project = "web";
  rel.version = "1.0.0";
  rel.runId = runs_[1];
  rel.artifactsJson = "[{\"name\": \"a\", \"sha256\": \"" + released + "\", \"size\": 14}]";
  ASSERT_TRUE(store_->addRelease(rel).ok());

  auto report = pruneBlobs(*store_, dir_ / "blobs", {Millis(30 * kDay), std::nullopt}, now_);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->removed, 1u);
  EXPECT_FALSE(present(old));
  EXPECT_TRUE(present(released)) << "a release's blob is never pruned";
  EXPECT_TRUE(present(recent));
}

TEST_F(RetentionTest, ASizeCapRemovesTheOldestButNeverAReleaseOrAFreshBlob) {
  std::string a = artifact(std::string(1000, 'a'), 5);
  std::string b = artifact(std::string(1000, 'b'), 4);
  std::string c = artifact(std::string(1000, 'c'), 3);
  store::Release rel;
  rel.project = "web";
  rel.version = "1.0.0";
  rel.artifactsJson = "[{\"sha256\": \"" + a + "\"}]";
  ASSERT_TRUE(store_->addRelease(rel).ok());
  // stored just now: within the grace period
  fs::path f = dir_ / "fresh";
  std::ofstream(f) << std::string(1000, 'f');
  std::string fresh = BlobStore(dir_ / "blobs").putFile(f)->sha256;

  auto report = pruneBlobs(*store_, dir_ / "blobs", {std::nullopt, 3000}, now_);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(present(a)) << "released";
  EXPECT_FALSE(present(b)) << "the oldest unreleased one";
  EXPECT_TRUE(present(c)) << "under the cap once b is gone";
  EXPECT_TRUE(present(fresh));
  EXPECT_EQ(report->bytesLeft, 3000u);
}

}  // namespace
}  // namespace boucle::vault
