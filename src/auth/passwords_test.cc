#include "auth/passwords.h"

#include <gtest/gtest.h>

namespace boucle::auth {
namespace {

TEST(Passwords, AHashChecksItsPasswordOnlyAndSaysWhatItIs) {
  auto hash = hashPassword("correct horse battery");
  ASSERT_TRUE(hash.ok()) << hash.status().message();
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(hash->find("correct horse"), std::string::npos);
  EXPECT_TRUE(checkPassword(*hash, "correct horse battery"));
  EXPECT_FALSE(checkPassword(*hash, "correct horse batterY"));
  EXPECT_FALSE(checkPassword(*hash, ""));
  // Salted: the same password hashes differently each time.
  EXPECT_NE(*hashPassword("correct horse battery"), *hash);
}

TEST(Passwords, NoStoredHashNeverMatchesAndBadPasswordsAreRefused) {
  EXPECT_FALSE(checkPassword("", "anything at all"));
  EXPECT_FALSE(checkPassword("not a hash", "anything at all"));
  EXPECT_EQ(hashPassword("short").status().code(), Code::kInvalid);
  EXPECT_EQ(passwordProblem("short"), "a password has at least 10 characters");
  EXPECT_EQ(hashPassword(std::string(1025, 'x')).status().code(), Code::kInvalid);
  EXPECT_EQ(passwordProblem("ten chars!"), "");
}

}  // namespace
}  // namespace boucle::auth
