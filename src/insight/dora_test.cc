#include "insight/dora.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace boucle::insight {
namespace {

constexpr int64_t kH = 3600LL * 1000;  // an hour
constexpr int64_t kDayMs = 24 * kH;

DoraDeploy deploy(int64_t id, const std::string& state, double startH, double endH,
                  std::vector<DoraCommit> commits = {}, bool rollback = false) {
  return {id,
          "1." + std::to_string(id),
          state,
          rollback,
          static_cast<int64_t>(startH * kH),
          static_cast<int64_t>(endH * kH),
          std::move(commits)};
}

DoraCommit commit(const std::string& sha, double authoredH,
                  std::optional<double> builtH = std::nullopt) {
  DoraCommit c{sha, static_cast<int64_t>(authoredH * kH), std::nullopt};
  if (builtH) c.firstBuiltAtMs = static_cast<int64_t>(*builtH * kH);
  return c;
}

// A week of one environment, with every kind of failure once; the answers below are worked
// out by hand from these hours.
class DoraWeek : public ::testing::Test {
 protected:
  void SetUp() override {
    deploys_ = {
        deploy(0, "succeeded", -49, -48),  // before the week: live when it starts
        deploy(1, "succeeded", 0, 1, {commit("c1", -24, -2)}),
        deploy(2, "failed", 24, 25),
        deploy(3, "succeeded", 26, 27, {commit("c2", 20, 21), commit("c3", 10)}),
        deploy(4, "rolled_back", 48, 49),
        deploy(5, "succeeded", 72, 73, {commit("c4", 70)}),
        deploy(6, "succeeded", 96, 97, {commit("c5", 90)}),
        deploy(7, "succeeded", 100, 100.5, {}, true),  // boucle rollback: 6 undone by hand
        deploy(8, "cancelled", 110, 110.1),            // not a change
    };
    incidents_ = {{1, 80 * kH, 82 * kH}};
  }
  DoraReport week() { return computeDora(deploys_, incidents_, 0, 7 * kDayMs); }
  std::vector<DoraDeploy> deploys_;
  std::vector<DoraIncident> incidents_;
};

TEST_F(DoraWeek, DeploymentFrequencyCountsSuccessfulChangesOfThePeriod) {
  DoraReport r = week();
  EXPECT_EQ(r.deploys, 4);  // 1, 3, 5, 6: not the rollback by hand, not the one before
  EXPECT_NEAR(r.perDay, 4.0 / 7, 1e-9);
  EXPECT_NEAR(r.perWeek, 4.0, 1e-9);
  EXPECT_EQ(r.frequency, "between once a day and once a week");
  EXPECT_EQ(r.frequencyBand, Band::kHigh);
}

TEST_F(DoraWeek, LeadTimeRunsFromEachCommitToTheDeployThatBroughtIt) {
  DoraReport r = week();
  ASSERT_EQ(r.leadTimes.size(), 5u);
  EXPECT_EQ(r.leadTimes[0].commit, "c1");
  EXPECT_EQ(r.leadTimes[0].fromAuthorMs, 25 * kH);
  EXPECT_EQ(r.leadTimes[0].fromFirstBuildMs, 3 * kH);
  // 25, 7, 17, 3, 7 hours: median (nearest rank) 7 h, p90 25 h; from the first build 3, 6 h.
  EXPECT_EQ(r.leadMedianMs, 7 * kH);
  EXPECT_EQ(r.leadP90Ms, 25 * kH);
  EXPECT_EQ(r.buildLeadMedianMs, 3 * kH);
  EXPECT_EQ(r.buildLeadP90Ms, 6 * kH);
  EXPECT_EQ(r.leadBand, Band::kElite);
}

TEST_F(DoraWeek, EachFailedChangeKeepsItsCauseAndItsRecovery) {
  DoraReport r = week();
  EXPECT_EQ(r.changes, 6);  // 1 to 6
  ASSERT_EQ(r.failures.size(), 4u);
  EXPECT_EQ(r.failures[0].deployId, 2);
  EXPECT_EQ(r.failures[0].cause, "failed");
  EXPECT_EQ(r.failures[0].recoveredAtMs, 27 * kH);  // deploy 3 ended
  EXPECT_EQ(r.failures[1].cause, "rolled_back");
  EXPECT_EQ(r.failures[1].atMs, 48 * kH);
  EXPECT_EQ(r.failures[1].recoveredAtMs, 49 * kH);
  EXPECT_EQ(r.failures[2].deployId, 5);
  EXPECT_EQ(r.failures[2].cause, "incident");
  EXPECT_EQ(r.failures[2].incidentId, 1);
  EXPECT_EQ(r.failures[2].atMs, 80 * kH);
  EXPECT_EQ(r.failures[3].deployId, 6);
  EXPECT_EQ(r.failures[3].cause, "rolled_back_by_hand");
  EXPECT_EQ(r.failures[3].recoveredAtMs, static_cast<int64_t>(100.5 * kH));
  EXPECT_NEAR(*r.failureRate, 4.0 / 6, 1e-9);
  EXPECT_EQ(r.failureBand, Band::kLow);
  // Recoveries of 2, 1, 2 and 3.5 hours: median 2 h.
  EXPECT_EQ(r.recoveryMedianMs, 2 * kH);
  EXPECT_EQ(r.recoveryBand, Band::kHigh);
}

TEST_F(DoraWeek, ReworkIsWhatWasDeployedWhileTheEnvironmentFailed) {
  DoraReport r = week();
  EXPECT_EQ(r.deploysAll, 7);     // 1 to 7
  EXPECT_EQ(r.reworkDeploys, 2);  // 3 (after 2 failed) and 7 (the rollback of 6)
  EXPECT_NEAR(*r.reworkRate, 2.0 / 7, 1e-9);
}

TEST(Dora, AnOpenIncidentIsAFailureNotYetRecovered) {
  std::vector<DoraDeploy> d{deploy(1, "succeeded", 0, 1)};
  DoraReport r = computeDora(d, {{9, 5 * kH, std::nullopt}}, 0, kDayMs);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].cause, "incident");
  EXPECT_FALSE(r.failures[0].recoveredAtMs);
  EXPECT_FALSE(r.recoveryMedianMs);
  EXPECT_EQ(r.failureRate, 1.0);
}

TEST(Dora, ADeployStartingAsAnIncidentOpensIsRework) {
  std::vector<DoraDeploy> d{deploy(1, "succeeded", 0, 1), deploy(2, "succeeded", 5, 5.5)};
  DoraReport r = computeDora(d, {{3, 5 * kH, 6 * kH}}, 0, kDayMs);
  EXPECT_EQ(r.reworkDeploys, 1);
  // An automatic rollback makes no other deploy rework, nor itself.
  std::vector<DoraDeploy> back{deploy(1, "rolled_back", 0, 1), deploy(2, "succeeded", 2, 3)};
  EXPECT_EQ(computeDora(back, {}, 0, kDayMs).reworkDeploys, 0);
}

TEST(Dora, FrequencyBandsFollowTheReport) {
  auto band = [](int n, int days) {
    std::vector<DoraDeploy> d;
    for (int i = 0; i < n; ++i) d.push_back(deploy(i + 1, "succeeded", i, i + 0.5));
    return computeDora(d, {}, 0, days * kDayMs);
  };
  EXPECT_EQ(band(14, 7).frequencyBand, Band::kElite);
  EXPECT_EQ(band(2, 7).frequencyBand, Band::kHigh);
  EXPECT_EQ(band(2, 30).frequencyBand, Band::kMedium);
  EXPECT_EQ(band(1, 90).frequencyBand, Band::kLow);
  DoraReport none = band(0, 30);
  EXPECT_EQ(none.frequency, "none");
  EXPECT_FALSE(none.failureRate);
  EXPECT_FALSE(none.leadMedianMs);
}

TEST(Dora, NearestRank) {
  EXPECT_EQ(nearestRank({}, 0.5), std::nullopt);
  EXPECT_EQ(nearestRank({5}, 0.9), 5);
  EXPECT_EQ(nearestRank({4, 1, 3, 2}, 0.5), 2);
  EXPECT_EQ(nearestRank({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9), 9);
}

}  // namespace
}  // namespace boucle::insight
