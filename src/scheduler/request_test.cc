#include "scheduler/request.h"

#include <gtest/gtest.h>

namespace boucle::scheduler {
namespace {

TEST(Request, ItsRunsBranchesAndTheBranchNamesTheyReserve) {
  EXPECT_EQ(requestBranch(7, false), "pr/7");
  EXPECT_EQ(requestBranch(7, true), "pr/7/merge");
  EXPECT_TRUE(isRequestBranch("pr/7"));
  EXPECT_TRUE(isRequestBranch("pr/123/merge"));
  EXPECT_FALSE(isRequestBranch("pr/"));
  EXPECT_FALSE(isRequestBranch("pr/x"));
  EXPECT_FALSE(isRequestBranch("pr/7/other"));
  EXPECT_FALSE(isRequestBranch("feature/pr/7"));
  EXPECT_FALSE(isRequestBranch("main"));
}

}  // namespace
}  // namespace boucle::scheduler
