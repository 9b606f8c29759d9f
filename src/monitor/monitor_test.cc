#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "monitor/incident_tracker.h"
#include "monitor/prometheus_answer.h"
#include "monitor/series.h"

namespace boucle::monitor {
namespace {

using Change = IncidentTracker::Change;
constexpr int64_t kMin = 60'000;

std::vector<Change> feed(IncidentTracker& t, std::vector<Verdict> vs) {
  std::vector<Change> out;
  for (auto v : vs) out.push_back(t.record(v));
  return out;
}

TEST(IncidentTracker, OpensAfterFailuresInARowAndResolvesAfterPassesInARow) {
  IncidentTracker t(3, 2);
  auto F = Verdict::kFail, P = Verdict::kPass, N = Verdict::kNoData;
  // Two failures then a pass: the streak starts again.
  EXPECT_THAT(feed(t, {F, F, P, F, F}), ::testing::Each(Change::kNone));
  EXPECT_EQ(t.streak(), 2);
  // No data is never a pass: it completes the streak.
  EXPECT_EQ(t.record(N), Change::kOpened);
  EXPECT_TRUE(t.open());
  // One pass, then no data: the recovery starts again.
  EXPECT_THAT(feed(t, {P, N, P}), ::testing::Each(Change::kNone));
  EXPECT_EQ(t.record(P), Change::kResolved);
  EXPECT_FALSE(t.open());
}

TEST(IncidentTracker, OneFailureOpensWhenFailAfterIsOneAndResumesOpen) {
  IncidentTracker t(1, 1);
  EXPECT_EQ(t.record(Verdict::kFail), Change::kOpened);
  EXPECT_EQ(t.record(Verdict::kFail), Change::kNone);
  EXPECT_EQ(t.record(Verdict::kPass), Change::kResolved);
  IncidentTracker restarted(3, 2);
  restarted.resume(true);
  EXPECT_EQ(restarted.record(Verdict::kPass), Change::kNone);
  EXPECT_EQ(restarted.record(Verdict::kPass), Change::kResolved);
}

TEST(Series, SamplesRollUpByMinuteWithTheirLatencyQuantiles) {
  std::vector<Sample> s;
  for (int i = 1; i <= 100; ++i) s.push_back({kMin + i * 100, Verdict::kPass, i});  // minute 1
  s.push_back({2 * kMin + 5, Verdict::kFail, 700});                                 // minute 2
  s.push_back({2 * kMin + 9, Verdict::kNoData, 0});
  auto r = rollUp(s, 95);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].minuteMs, kMin);
  EXPECT_EQ(r[0].count, 100);
  EXPECT_EQ(r[0].failures, 0);
  EXPECT_EQ(r[0].p50Ms, 50);
  EXPECT_EQ(r[0].p95Ms, 95);
  EXPECT_EQ(r[0].p99Ms, 99);
  EXPECT_EQ(r[0].slow, 5);  // 96 to 100
  EXPECT_EQ(r[1].count, 2);
  EXPECT_EQ(r[1].failures, 2);
  EXPECT_EQ(r[1].noData, 1);
}

// A day of minutes, each with 100 samples, some failing.
std::vector<Rollup> day(int failuresPerMinuteInLastHour, int lastMinutesFailing) {
  std::vector<Rollup> out;
  for (int m = 0; m < 24 * 60; ++m) {
    Rollup r;
    r.minuteMs = m * kMin;
    r.count = 100;
    bool lastHour = m >= 23 * 60;
    bool lastMinutes = m >= 24 * 60 - lastMinutesFailing;
    r.failures = lastHour ? failuresPerMinuteInLastHour : 0;
    if (lastMinutes) r.failures = failuresPerMinuteInLastHour;
    r.p95Ms = m % 2 ? 100 : 300;
    out.push_back(r);
  }
  return out;
}

TEST(Series, TheBudgetLeftIsWhatTheWindowHasNotSpent) {
  Slo slo{99.0, 250, 24 * 60 * kMin};
  // 60 minutes × 2 failures of 144,000 samples: 120 bad, availability 99.9167%.
  Budget b = budgetOf(day(2, 0), slo, 24 * 60 * kMin);
  EXPECT_EQ(b.total, 144'000);
  EXPECT_EQ(b.good, 144'000 - 120);
  EXPECT_NEAR(*b.availability, 100.0 * (144'000 - 120) / 144'000, 1e-9);
  // Allowed: 1% of 144,000 = 1,440; spent 120: 1 - 120/1440 left.
  EXPECT_NEAR(*b.budgetLeft, 1 - 120.0 / 1440, 1e-9);
  EXPECT_EQ(b.p95Ms, 300);
}

TEST(Series, BurnRateAlertsNeedTheLongAndTheShortWindowBoth) {
  Slo slo{99.9, std::nullopt, 30LL * 24 * 60 * kMin};
  int64_t now = 24 * 60 * kMin;
  // 2% failing for the last hour: 20 times the 0.1% the SLO allows, on both windows: page.
  auto burning = day(2, 0);
  EXPECT_NEAR(*burnRate(burning, slo, now, 60 * kMin), 20, 1e-9);
  EXPECT_EQ(burnAlert(burning, slo, now), BurnAlert::kPage);
  // The same hour, but the last 5 minutes are clean again: no page; over 6 hours the burn is
  // 20/6 ≈ 3.3: no ticket either.
  auto recovered = burning;
  for (int i = 0; i < 5; ++i) recovered[recovered.size() - 1 - i].failures = 0;
  EXPECT_EQ(burnAlert(recovered, slo, now), BurnAlert::kNone);
  // 0.7% failing for 6 hours: 7 times as fast: ticket.
  std::vector<Rollup> slow = day(0, 0);
  for (size_t i = slow.size() - 360; i < slow.size(); ++i) slow[i].failures = 0;
  for (size_t i = slow.size() - 360; i < slow.size(); i += 10) slow[i].failures = 7;
  for (size_t i = slow.size() - 30; i < slow.size(); ++i) slow[i].failures = 1;
  EXPECT_EQ(burnAlert(slow, slo, now), BurnAlert::kTicket);
  EXPECT_FALSE(burnRate({}, slo, now, 60 * kMin));
}

TEST(PrometheusAnswer, EverySeriesIsHeldToTheBounds) {
  std::string two = R"({"status":"success","data":{"resultType":"vector","result":[
    {"metric":{"job":"a"},"value":[1,"0.2"]},{"metric":{"job":"b"},"value":[1,"0.7"]}]}})";
  EXPECT_EQ(judgeQuery(two, 1.0, std::nullopt).verdict, Verdict::kPass);
  Judged high = judgeQuery(two, 0.5, std::nullopt);
  EXPECT_EQ(high.verdict, Verdict::kFail);
  EXPECT_EQ(high.detail, "{job=b} is 0.7, not below 0.5");
  EXPECT_EQ(judgeQuery(two, std::nullopt, 0.3).detail, "{job=a} is 0.2, not above 0.3");
  // The bound itself is not within it.
  EXPECT_EQ(judgeQuery(two, 0.7, std::nullopt).verdict, Verdict::kFail);
  std::string scalar = R"({"status":"success","data":{"resultType":"scalar","result":[1,"3"]}})";
  EXPECT_EQ(judgeQuery(scalar, std::nullopt, 2.0).verdict, Verdict::kPass);
}

TEST(PrometheusAnswer, NoSeriesIsNoDataAndNeverAPass) {
  std::string empty = R"({"status":"success","data":{"resultType":"vector","result":[]}})";
  EXPECT_EQ(judgeQuery(empty, 1.0, std::nullopt).verdict, Verdict::kNoData);
  std::string nan = R"({"status":"success","data":{"resultType":"vector","result":[
    {"metric":{},"value":[1,"NaN"]}]}})";
  EXPECT_EQ(judgeQuery(nan, 1.0, std::nullopt).verdict, Verdict::kNoData);
  Judged error = judgeQuery(R"({"status":"error","errorType":"bad_data","error":"parse error"})",
                            1.0, std::nullopt);
  EXPECT_EQ(error.verdict, Verdict::kFail);
  EXPECT_EQ(error.detail, "Prometheus said: parse error");
  EXPECT_EQ(judgeQuery("<html>", 1.0, std::nullopt).verdict, Verdict::kFail);
  // Members of another type than Prometheus' are a failure, not an exception.
  EXPECT_EQ(judgeQuery(R"({"status":1})", 1.0, std::nullopt).verdict, Verdict::kFail);
  EXPECT_EQ(
      judgeQuery(R"({"status":"success","data":{"resultType":[1],"result":[]}})", 1.0, std::nullopt)
          .verdict,
      Verdict::kFail);
  EXPECT_EQ(judgeQuery(R"({"status":"success","data":{"resultType":"matrix","result":[]}})", 1.0,
                       std::nullopt)
                .verdict,
            Verdict::kFail);
}

TEST(PrometheusAnswer, TheTextFormatIsCheckedLineByLine) {
  Judged ok = judgeExposition(
      "# HELP x_total Things.\n# TYPE x_total counter\nx_total{a=\"b}\\\"\",c=\"d\"} 3 "
      "1700000000000\ny 1.5e3\nz +Inf\n");
  EXPECT_EQ(ok.verdict, Verdict::kPass) << ok.detail;
  EXPECT_EQ(ok.detail, "3 samples");
  Judged bad = judgeExposition("x 1\n<html>oops</html>\n");
  EXPECT_EQ(bad.verdict, Verdict::kFail);
  EXPECT_EQ(bad.detail, "line 2 is not Prometheus' text format");
  EXPECT_EQ(judgeExposition("x{a=\"1\" 2\n").verdict, Verdict::kFail);
  EXPECT_EQ(judgeExposition("x one\n").verdict, Verdict::kFail);
  EXPECT_EQ(judgeExposition("# nothing\n\n").verdict, Verdict::kNoData);
}

}  // namespace
}  // namespace boucle::monitor
