#include "auth/roles.h"

#include <gtest/gtest.h>

namespace boucle::auth {
namespace {

TEST(Roles, ParsedFromTheStoredListAndCheckedAgainstRules) {
  auto roles = parseRoles("ops,developer,ops");
  ASSERT_TRUE(roles.ok());
  EXPECT_EQ(*roles, (std::vector<std::string>{"ops", "developer"}));
  EXPECT_FALSE(parseRoles("").ok());
  EXPECT_FALSE(parseRoles("ops,a b").ok());
  EXPECT_FALSE(parseRoles("../x").ok());

  Principal olga{"olga", {"ops"}};
  EXPECT_TRUE(olga.namedBy({"qa", "ops"}));
  EXPECT_TRUE(olga.namedBy({"user:olga"}));
  EXPECT_FALSE(olga.namedBy({"user:ops", "developer"}));  // a user entry is not a role
  EXPECT_FALSE(olga.namedBy({}));
  EXPECT_FALSE(olga.admin());
  EXPECT_FALSE(olga.readOnly());
  EXPECT_TRUE((Principal{"vic", {"viewer"}}.readOnly()));
  EXPECT_FALSE((Principal{"vic", {"viewer", "qa"}}.readOnly()));
  // An agent's role grants no change outside the agent routes, whatever it is mixed with.
  EXPECT_TRUE((Principal{"pi", {"agent", "viewer"}}.readOnly()));
  EXPECT_TRUE((Principal{"pi", {"agent"}}.agentOnly()));
  EXPECT_FALSE((Principal{"pi", {"agent", "viewer"}}.agentOnly()));
  EXPECT_TRUE((Principal{"root", {"viewer", "admin"}}.admin()));
  EXPECT_EQ((Principal{"dana", {"developer", "qa"}}.describe()), "dana (developer,qa)");
}

}  // namespace
}  // namespace boucle::auth
