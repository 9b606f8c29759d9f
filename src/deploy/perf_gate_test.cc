#include "deploy/perf_gate.h"

#include <gtest/gtest.h>

namespace boucle::deploy {
namespace {

store::BenchmarkRecord round(const std::string& job, const std::string& name, double mean,
                             double rps) {
  store::BenchmarkRecord b;
  b.job = job;
  b.name = name;
  b.source = "google-benchmark";
  b.figures = {{"mean", mean}, {"rps", rps}};
  return b;
}

TEST(Interleaved, EachRoundsFigureIsASampleAndTheirMedianTheFigure) {
  std::vector<store::BenchmarkRecord> all = {
      round("bench-A1", "BM_parse", 10, 100), round("bench-B1", "BM_parse", 14, 70),
      round("bench-A2", "BM_parse", 12, 90),  round("bench-B2", "BM_parse", 13, 75),
      round("bench-A3", "BM_parse", 11, 95),  round("bench-B3", "BM_parse", 30, 40),
      round("other", "BM_parse", 1000, 1)};
  auto sides = interleavedMeasurements(all, "bench", "mean", 3);
  EXPECT_EQ(sides.missing, "");
  ASSERT_EQ(sides.baseline.size(), 1u);
  ASSERT_EQ(sides.candidate.size(), 1u);
  EXPECT_EQ(sides.baseline[0].samples, (std::vector<double>{10, 12, 11}));
  EXPECT_DOUBLE_EQ(sides.baseline[0].figures.at("mean"), 11);
  EXPECT_DOUBLE_EQ(sides.candidate[0].figures.at("mean"), 14);
  // A rate: higher is better, so a sample is its negation (a larger sample is always worse).
  auto rates = interleavedMeasurements(all, "bench", "rps", 3);
  EXPECT_EQ(rates.candidate[0].samples, (std::vector<double>{-70, -75, -40}));
  EXPECT_DOUBLE_EQ(rates.candidate[0].figures.at("rps"), 70);
}

TEST(Interleaved, ARoundThatReportedNothingIsNamed) {
  std::vector<store::BenchmarkRecord> all = {
      round("bench-A1", "x", 1, 1), round("bench-B1", "x", 1, 1), round("bench-A2", "x", 1, 1)};
  EXPECT_EQ(interleavedMeasurements(all, "bench", "mean", 2).missing, "bench-B2");
  EXPECT_EQ(interleavedMeasurements(all, "bench", "p99", 2).missing, "bench-A1");
  EXPECT_EQ(roundJob("load", 'B', 12), "load-B12");
}

}  // namespace
}  // namespace boucle::deploy
