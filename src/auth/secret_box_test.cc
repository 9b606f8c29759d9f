#include "auth/secret_box.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "auth/tokens.h"

namespace boucle::auth {
namespace {

namespace fs = std::filesystem;

class SecretBoxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("boucle-box-" + randomHex(6));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SecretBoxTest, SealsUnderAPrivateKeyFileAndOpensAgainAfterARestart) {
  auto box = SecretBox::openOrCreate(dir_ / "secret.key");
  ASSERT_TRUE(box.ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "secret.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string sealed = box->seal("ghp_token");
  EXPECT_EQ(sealed.find("ghp_token"), std::string::npos);
  EXPECT_NE(sealed, box->seal("ghp_token"));  // a fresh nonce each time
  auto again = SecretBox::openOrCreate(dir_ / "secret.key");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again->unseal(sealed), "ghp_token");
}

TEST_F(SecretBoxTest, AnotherKeyOrAnAlteredSecretIsRefused) {
  auto box = SecretBox::openOrCreate(dir_ / "a.key");
  auto other = SecretBox::openOrCreate(dir_ / "b.key");
  ASSERT_TRUE(box.ok() && other.ok());
  std::string sealed = box->seal("private key");
  EXPECT_FALSE(other->unseal(sealed).ok());
  std::string altered = sealed;
  altered[30] = altered[30] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(box->unseal(altered).ok());
  EXPECT_FALSE(box->unseal("not base64 at all!").ok());
  EXPECT_FALSE(box->unseal("").ok());
}

}  // namespace
}  // namespace boucle::auth
