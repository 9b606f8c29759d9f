// The performance check on known samples.
#include "quality/perf_check.h"

#include <gtest/gtest.h>

namespace boucle::quality {
namespace {

runner::Measurement m(std::string name, double p95, std::vector<double> samples = {}) {
  return {std::move(name), "test", {{"p95", p95}, {"rps", 100}}, std::move(samples)};
}

TEST(MannWhitney, ExactOnSmallSamplesWithoutTies) {
  // No overlap: 1 arrangement of C(10, 5) = 252 is as extreme.
  EXPECT_NEAR(mannWhitneyGreater({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5}), 1.0 / 252, 1e-12);
  // U = 17 of 20 for sizes 5 and 4: U' <= 3 happens in 1 + 1 + 2 + 3 = 7 of C(9, 4) = 126.
  EXPECT_NEAR(mannWhitneyGreater({19, 22, 16, 29, 24}, {20, 11, 17, 12}), 7.0 / 126, 1e-12);
  // The other direction holds everything but U = 20 - 17 exactly: P(U >= 3) = 1 - P(U <= 2).
  EXPECT_NEAR(mannWhitneyGreater({20, 11, 17, 12}, {19, 22, 16, 29, 24}), 1 - 4.0 / 126, 1e-12);
}

TEST(MannWhitney, NormalApproximationForLargeOrTiedSamples) {
  std::vector<double> low, high;
  for (int i = 0; i < 20; ++i) {
    low.push_back(i);
    high.push_back(100 + i);
  }
  // U = 400, mean 200, sd sqrt(20 * 20 * 41 / 12) = 36.97: z = 5.40, p about 3.4e-8.
  double p = mannWhitneyGreater(high, low);
  EXPECT_LT(p, 1e-7);
  EXPECT_GT(p, 1e-9);
  EXPECT_GT(mannWhitneyGreater(low, high), 0.999999);
  // Identical samples, all tied: no evidence that either is slower.
  std::vector<double> same(30, 5.0);
  EXPECT_EQ(mannWhitneyGreater(same, same), 1);
  // Ties within shifted samples still separate them.
  std::vector<double> tiedLow{1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7};
  std::vector<double> tiedHigh{9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15};
  EXPECT_LT(mannWhitneyGreater(tiedHigh, tiedLow), 1e-4);
  EXPECT_EQ(mannWhitneyGreater({}, {1, 2}), 1);
}

TEST(PerfCheck, ARegressionNeedsTheRelativeLimitTheFloorAndWithSamplesSignificance) {
  PerfLimit limit;
  limit.figure = "p95";
  limit.maxRegression = 0.10;
  limit.floor = 5;
  // 12 → 19.5 ms: +62%, 7.5 ms over: slower.
  auto slow = judgePerformance({m("GET /", 12)}, {m("GET /", 19.5)}, limit);
  EXPECT_FALSE(slow.passed);
  ASSERT_EQ(slow.comparisons.size(), 1u);
  EXPECT_TRUE(slow.comparisons[0].regression);
  EXPECT_NE(slow.summary.find("12.0 ms → 19.5 ms (+62%"), std::string::npos) << slow.summary;
  // 2 → 4 ms: +100% but 2 ms under the 5 ms floor: noise on a shared machine.
  EXPECT_TRUE(judgePerformance({m("GET /", 2)}, {m("GET /", 4)}, limit).passed);
  // 100 → 108 ms: 8 ms over the floor but within 10%.
  EXPECT_TRUE(judgePerformance({m("GET /", 100)}, {m("GET /", 108)}, limit).passed);
  // Faster is fine.
  EXPECT_TRUE(judgePerformance({m("GET /", 100)}, {m("GET /", 50)}, limit).passed);

  // With samples: 30% slower in the figure, yet the samples overlap wholly: within the noise.
  std::vector<double> a{100, 130, 90, 125, 110, 95}, b{105, 120, 98, 128, 112, 93};
  auto noisy = judgePerformance({m("x", 100, a)}, {m("x", 130, b)}, limit);
  EXPECT_TRUE(noisy.passed) << noisy.summary;
  ASSERT_TRUE(noisy.comparisons[0].p.has_value());
  EXPECT_GT(*noisy.comparisons[0].p, 0.05);
  EXPECT_NE(noisy.comparisons[0].text.find("within the noise"), std::string::npos);
  // The same figures with samples that do separate: slower.
  std::vector<double> c{131, 140, 135, 150, 138, 142};
  auto real = judgePerformance({m("x", 100, a)}, {m("x", 130, c)}, limit);
  EXPECT_FALSE(real.passed);
  EXPECT_LT(*real.comparisons[0].p, 0.05);
}

TEST(PerfCheck, SamplesAreTimesWhateverTheFigureAndTooFewToDecideAreLeftToTheFigures) {
  PerfLimit limit;
  limit.figure = "rps";
  limit.maxRegression = 0.2;
  // Fewer per second, and each single measurement slower: a rate's regression, significant.
  std::vector<double> fast{10, 11, 10.5, 9.8, 10.2, 10.1}, slow{20, 21, 19.5, 22, 20.5, 21.5};
  runner::Measurement before{"BM_Parse", "google-benchmark", {{"rps", 100}}, fast};
  runner::Measurement after{"BM_Parse", "google-benchmark", {{"rps", 50}}, slow};
  auto v = judgePerformance({before}, {after}, limit);
  EXPECT_FALSE(v.passed) << v.summary;
  ASSERT_TRUE(v.comparisons[0].p.has_value());
  EXPECT_LT(*v.comparisons[0].p, 0.01);
  // Three a side can never reach 0.05 (1/20 at best): the figures alone decide.
  limit.figure = "mean";
  runner::Measurement three{"x", "t", {{"mean", 10}}, {10, 10.1, 9.9}};
  runner::Measurement slower{"x", "t", {{"mean", 20}}, {20, 20.1, 19.9}};
  auto few = judgePerformance({three}, {slower}, limit);
  EXPECT_FALSE(few.passed);
  EXPECT_FALSE(few.comparisons[0].p.has_value());
}

TEST(PerfCheck, AMeasurementTheBaselineHadAndTheCandidateLacksIsNoPass) {
  PerfLimit limit;
  auto v = judgePerformance({m("GET /", 10), m("GET /slow", 10)}, {m("GET /", 10)}, limit);
  EXPECT_FALSE(v.passed);
  EXPECT_NE(v.summary.find("'GET /slow' was measured"), std::string::npos) << v.summary;
  // A new measurement is fine: there is nothing yet to hold it to.
  EXPECT_TRUE(
      judgePerformance({m("GET /", 10)}, {m("GET /", 10), m("GET /new", 99)}, limit).passed);
}

TEST(PerfCheck, RatesAreBetterHigherAndNothingMeasuredIsAFailure) {
  PerfLimit limit;
  limit.figure = "rps";
  limit.maxRegression = 0.2;
  auto fewer = judgePerformance({{"api", "k6", {{"rps", 200}}, {}}},
                                {{"api", "k6", {{"rps", 120}}, {}}}, limit);
  EXPECT_FALSE(fewer.passed);
  EXPECT_NEAR(fewer.comparisons[0].change, 0.4, 1e-9);
  EXPECT_TRUE(judgePerformance({{"api", "k6", {{"rps", 200}}, {}}},
                               {{"api", "k6", {{"rps", 300}}, {}}}, limit)
                  .passed);
  // The baseline's measurement missing from the candidate fails first; with none on either
  // side of the figure, there is nothing to compare.
  auto renamed = judgePerformance({m("a", 1)}, {m("b", 1)}, limit);
  EXPECT_FALSE(renamed.passed);
  EXPECT_NE(renamed.summary.find("'a' was measured"), std::string::npos) << renamed.summary;
  limit.figure = "p99";
  auto none = judgePerformance({m("a", 1)}, {m("a", 1)}, limit);
  EXPECT_FALSE(none.passed);
  EXPECT_NE(none.summary.find("nothing to compare"), std::string::npos) << none.summary;
  limit.figure = "p95";
  limit.name = "b";
  EXPECT_FALSE(judgePerformance({m("a", 1), m("b", 1)}, {m("a", 100), m("b", 1)}, limit)
                   .comparisons.empty());
  EXPECT_TRUE(judgePerformance({m("a", 1), m("b", 1)}, {m("a", 100), m("b", 1)}, limit).passed);
}

}  // namespace
}  // namespace boucle::quality
