#include "runner/test_verdict.h"

#include <gtest/gtest.h>

namespace boucle::runner {
namespace {

TestReport report(std::vector<std::pair<std::string, Outcome>> cases) {
  TestReport r;
  for (auto& [name, outcome] : cases) {
    ++r.tests;
    if (outcome == Outcome::kFailed) ++r.failures;
    if (outcome == Outcome::kError) ++r.errors;
    r.cases.push_back({"s", name, "", outcome, 0});
  }
  return r;
}

TEST(TestVerdict, AJobIsExcusedOnlyWhenEveryFailureIsQuarantinedAndNamed) {
  std::set<std::string> q{testKey("s", "flaky")};
  EXPECT_TRUE(
      onlyQuarantinedFailed(report({{"flaky", Outcome::kFailed}, {"ok", Outcome::kPassed}}), q));
  EXPECT_FALSE(
      onlyQuarantinedFailed(report({{"flaky", Outcome::kFailed}, {"real", Outcome::kError}}), q));
  EXPECT_FALSE(onlyQuarantinedFailed(report({{"ok", Outcome::kPassed}}), q));  // nothing failed
  EXPECT_FALSE(onlyQuarantinedFailed(report({{"flaky", Outcome::kFailed}}), {}));
  // More failures counted than named (the report kept only so many): never excused.
  auto cut = report({{"flaky", Outcome::kFailed}});
  cut.failures = 2;
  EXPECT_FALSE(onlyQuarantinedFailed(cut, q));
  // A report not all read may hide the real failure; one the commit holds is no evidence.
  auto unread = report({{"flaky", Outcome::kFailed}});
  unread.warnings.push_back("report-2.xml: not valid XML");
  EXPECT_FALSE(onlyQuarantinedFailed(unread, q));
  auto committed = report({{"flaky", Outcome::kFailed}});
  committed.fromCheckout = true;
  EXPECT_FALSE(onlyQuarantinedFailed(committed, q));
}

TEST(TestVerdict, FlakyTestsFailedBeforeAndPassedInTheLastAttempt) {
  std::vector<RetriedAttempt> earlier{
      {1, "", "exit 1", report({{"a", Outcome::kFailed}, {"b", Outcome::kFailed}})},
      {2, "", "exit 1", report({{"c", Outcome::kError}})},
      {3, "", "exit 1", std::nullopt}};
  auto last = report({{"a", Outcome::kPassed}, {"b", Outcome::kFailed}, {"c", Outcome::kPassed}});
  EXPECT_EQ(flakyAcross(earlier, last),
            (std::vector<std::string>{testKey("s", "a"), testKey("s", "c")}));
  // Not run again is not a pass.
  EXPECT_TRUE(flakyAcross(earlier, report({})).empty());
  EXPECT_TRUE(flakyAcross(earlier, std::nullopt).empty());
}

}  // namespace
}  // namespace boucle::runner
