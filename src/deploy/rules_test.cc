#include "deploy/rules.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace boucle::deploy {
namespace {

pipeline::Environment prod() {
  pipeline::Environment e;
  e.name = "prod";
  e.after = "qa";
  e.approval = {"ops"};
  e.deployers = {"ops", "user:lead"};
  e.fourEyes = true;
  std::string error;
  e.window = pipeline::parseWindow("Sat 02:00-05:00", &error);
  return e;
}

// Times in UTC, whatever the machine's zone: the rules read local time.
class Rules : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
  // 2026-11-28 is a Saturday.
  static constexpr std::time_t kSat0300 = 1795834800;  // Sat 03:00 UTC
  static constexpr std::time_t kSat0600 = kSat0300 + 3 * 3600;
  auth::Principal ops{"olga", {"ops"}};
  auth::Principal dev{"dana", {"developer"}};
};

TEST_F(Rules, DeployersAfterAndTheWindowAreEachChecked) {
  auto env = prod();
  Ask ask{"prod", "1.2.0", false, false, ops};
  EXPECT_TRUE(mayDeploy(env, ask, {false, true}, kSat0300).ok());
  EXPECT_EQ(mayDeploy(env, ask, {false, false}, kSat0300).code(), Code::kConflict);  // not in qa
  EXPECT_EQ(mayDeploy(env, ask, {false, true}, kSat0600).code(), Code::kConflict);   // window
  ask.dryRun = true;
  EXPECT_TRUE(mayDeploy(env, ask, {false, true}, kSat0600).ok());  // a dry run touches nothing
  Ask byDev{"prod", "1.2.0", false, false, dev};
  EXPECT_EQ(mayDeploy(env, byDev, {false, true}, kSat0300).code(), Code::kUnauthorized);
  Ask byLead{"prod", "1.2.0", false, false, auth::Principal{"lead", {"developer"}}};
  EXPECT_TRUE(mayDeploy(env, byLead, {false, true}, kSat0300).ok());
  Ask automatic{"prod", "1.2.0", false, false, std::nullopt};
  EXPECT_TRUE(mayDeploy(env, automatic, {false, true}, kSat0300).ok());
}

TEST_F(Rules, ARollbackGoesOnlyWhereTheReleaseRanOrPassedAfter) {
  auto env = prod();
  Ask back{"prod", "1.1.0", true, false, ops};
  EXPECT_TRUE(mayDeploy(env, back, {true, false}, kSat0300).ok());
  EXPECT_TRUE(mayDeploy(env, back, {false, true}, kSat0300).ok());
  auto st = mayDeploy(env, back, {false, false}, kSat0300);
  EXPECT_EQ(st.code(), Code::kConflict);
  EXPECT_NE(st.message().find("never ran in prod"), std::string::npos);
  pipeline::Environment dev;
  dev.name = "dev";
  EXPECT_EQ(mayDeploy(dev, {"dev", "9.9.9", true, false, ops}, {false, false}, kSat0300).code(),
            Code::kConflict);
}

TEST_F(Rules, ApproversFourEyesAndUnreadableRules) {
  auto env = prod();
  EXPECT_TRUE(mayApprove(&env, "prod", ops, "dana").ok());
  EXPECT_EQ(mayApprove(&env, "prod", ops, "olga").code(), Code::kUnauthorized);  // four eyes
  EXPECT_EQ(mayApprove(&env, "prod", dev, "olga").code(), Code::kUnauthorized);
  auth::Principal admin{"root", {"admin"}};
  EXPECT_TRUE(mayApprove(&env, "prod", admin, "olga").ok());
  EXPECT_EQ(mayApprove(nullptr, "prod", ops, "dana").code(), Code::kUnauthorized);
  EXPECT_TRUE(mayApprove(nullptr, "prod", admin, "dana").ok());
}

TEST_F(Rules, AWindowPastMidnightOpensOnItsDayAndClosesTheNext) {
  std::string error;
  auto w = pipeline::parseWindow("Fri 22:00-02:00", &error);
  ASSERT_TRUE(w) << error;
  std::time_t fri2300 = 1795820400;  // Fri 2026-11-27 23:00 UTC
  EXPECT_TRUE(inWindow(*w, fri2300));
  EXPECT_TRUE(inWindow(*w, fri2300 + 2 * 3600));   // Sat 01:00
  EXPECT_FALSE(inWindow(*w, fri2300 + 4 * 3600));  // Sat 03:00
  EXPECT_FALSE(inWindow(*w, fri2300 - 2 * 3600));  // Fri 21:00
}

}  // namespace
}  // namespace boucle::deploy
