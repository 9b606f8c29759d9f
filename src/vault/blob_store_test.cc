#include "vault/blob_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include "os/files.h"

namespace boucle::vault {
namespace {
namespace fs = std::filesystem;

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/boucle-blob-XXXXXX";
    dir_ = mkdtemp(t);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
    return dir_ / name;
  }
  fs::path dir_;
};

TEST_F(BlobStoreTest, StoresByContentHashAndDeduplicates) {
  BlobStore store(dir_ / "blobs");
  auto a = store.putFile(write("a", "abc"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(a->size, 3u);
  auto b = store.putFile(write("b", "abc"));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->sha256, a->sha256);
  EXPECT_TRUE(store.contains(a->sha256));
  EXPECT_TRUE(fs::is_empty(dir_ / "blobs/tmp"));
  ASSERT_TRUE(store.copyOut(a->sha256, dir_ / "out").ok());
  EXPECT_EQ(*os::readFile(dir_ / "out"), "abc");
}

TEST_F(BlobStoreTest, DetectsCorruptionOnRead) {
  BlobStore store(dir_ / "blobs");
  auto a = store.putFile(write("a", "original"));
  ASSERT_TRUE(a.ok());
  fs::path blob = store.pathOf(a->sha256);
  ::chmod(blob.c_str(), 0644);
  std::ofstream(blob, std::ios::binary) << "tampered";
  Status st = store.copyOut(a->sha256, dir_ / "out");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("corrupt"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  EXPECT_FALSE(store.copyOut("../../etc/passwd", dir_ / "x").ok());
}

TEST(Files, AtomicWriteReplacesWholeFile) {
  char t[] = "/tmp/boucle-files-XXXXXX";
  fs::path d = mkdtemp(t);
  ASSERT_TRUE(os::writeFileAtomic(d / "f", "first").ok());
  ASSERT_TRUE(os::writeFileAtomic(d / "f", "second").ok());
  EXPECT_EQ(*os::readFile(d / "f"), "second");
  size_t files = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(d)) ++files;
  EXPECT_EQ(files, 1u);  // no temporary left behind
  fs::remove_all(d);
}

TEST(Files, CopyTreeKeepsModesAndSymlinks) {
  char t[] = "/tmp/boucle-files-XXXXXX";
  fs::path d = mkdtemp(t);
  fs::create_directories(d / "src/sub");
  std::ofstream(d / "src/sub/run.sh") << "#!/bin/sh\n";
  ::chmod((d / "src/sub/run.sh").c_str(), 0755);
  fs::create_symlink("sub/run.sh", d / "src/link");
  ASSERT_TRUE(os::copyTree(d / "src", d / "dst").ok());
  EXPECT_EQ(*os::readFile(d / "dst/sub/run.sh"), "#!/bin/sh\n");
  EXPECT_EQ(fs::status(d / "dst/sub/run.sh").permissions() & fs::perms::owner_exec,
            fs::perms::owner_exec);
  EXPECT_EQ(fs::read_symlink(d / "dst/link"), "sub/run.sh");
  fs::remove_all(d);
}

}  // namespace
}  // namespace boucle::vault
