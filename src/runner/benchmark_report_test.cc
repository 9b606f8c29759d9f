// Reports as the tools write them (trimmed from real runs: Google Benchmark 1.7, Locust 2.12,
// pytest-benchmark 3.2; k6's from its documented --summary-export).
#include "runner/benchmark_report.h"

#include <gtest/gtest.h>

namespace boucle::runner {
namespace {

TEST(BenchmarkReport, GoogleBenchmarkRepetitionsAreSamplesAndAggregatesFigures) {
  auto r = parseBenchmarks(R"({"context": {"library_build_type": "release"}, "benchmarks": [
    {"name": "BM_Parse", "run_name": "BM_Parse", "run_type": "iteration", "repetitions": 3,
     "repetition_index": 0, "iterations": 64, "real_time": 10932965.6, "cpu_time": 1.0e7, "time_unit": "ns"},
    {"name": "BM_Parse", "run_name": "BM_Parse", "run_type": "iteration", "repetitions": 3,
     "repetition_index": 1, "iterations": 64, "real_time": 10867295.1, "cpu_time": 1.0e7, "time_unit": "ns"},
    {"name": "BM_Parse", "run_name": "BM_Parse", "run_type": "iteration", "repetitions": 3,
     "repetition_index": 2, "iterations": 64, "real_time": 10712721.4, "cpu_time": 1.0e7, "time_unit": "ns"},
    {"name": "BM_Parse_mean", "run_name": "BM_Parse", "run_type": "aggregate", "aggregate_name": "mean",
     "real_time": 10837660.7, "time_unit": "ns"},
    {"name": "BM_Parse_median", "run_name": "BM_Parse", "run_type": "aggregate", "aggregate_name": "median",
     "real_time": 10867295.1, "time_unit": "ns"},
    {"name": "BM_Parse_cv", "run_name": "BM_Parse", "run_type": "aggregate", "aggregate_name": "cv",
     "real_time": 0.0104, "time_unit": "ns"},
    {"name": "BM_Spawn/real_time", "run_name": "BM_Spawn/real_time", "run_type": "iteration",
     "iterations": 900, "real_time": 0.75, "time_unit": "ms", "items_per_second": 1333.3}
  ]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 2u);
  const auto& parse = (*r)[0];
  EXPECT_EQ(parse.name, "BM_Parse");
  EXPECT_EQ(parse.source, "google-benchmark");
  EXPECT_NEAR(parse.figures.at("mean"), 10.8377, 1e-3);  // ms
  EXPECT_NEAR(parse.figures.at("median"), 10.8673, 1e-3);
  EXPECT_NEAR(parse.figures.at("min"), 10.7127, 1e-3);
  ASSERT_EQ(parse.samples.size(), 3u);
  EXPECT_NEAR(parse.samples[0], 10.933, 1e-3);
  const auto& spawn = (*r)[1];
  EXPECT_NEAR(spawn.figures.at("mean"), 0.75, 1e-9);
  EXPECT_NEAR(spawn.figures.at("rps"), 1333.3, 1e-9);
  EXPECT_TRUE(spawn.samples.empty());  // one run is no sample set
}

TEST(BenchmarkReport, LocustStatisticsGiveEachRequestAndTheAggregate) {
  auto r = parseBenchmarks(
      "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min "
      "Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,"
      "80%,90%,95%,98%,99%,99.9%,99.99%,100%\n"
      "GET,/health,1645,3,5,5.887632625555057,2.489557009539567,52.114136997261085,335.0,"
      "821.5386696361127,1.5,5,6,6,6,7,8,11,13,52,52,52\n"
      "POST,\"/items?a=1,2\",10,0,9,9.5,8,12,10.0,5.0,0.0,9,9,10,10,11,12,12,12,12,12,12\n"
      ",Aggregated,1655,3,5,5.9,2.48,52.1,335.0,826.5,1.5,5,6,6,6,7,8,11,13,52,52,52\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].name, "GET /health");
  EXPECT_EQ((*r)[0].source, "locust");
  EXPECT_EQ((*r)[0].figures.at("p95"), 8);
  EXPECT_EQ((*r)[0].figures.at("median"), 5);
  EXPECT_NEAR((*r)[0].figures.at("rps"), 821.54, 0.01);
  EXPECT_EQ((*r)[0].figures.at("failures"), 3);
  EXPECT_EQ((*r)[1].name, "POST /items?a=1,2");
  EXPECT_EQ((*r)[1].figures.at("p99"), 12);
  EXPECT_EQ((*r)[2].name, "Aggregated");
}

TEST(BenchmarkReport, PytestBenchmarkRoundsAreSamplesInMilliseconds) {
  auto r = parseBenchmarks(R"({"machine_info": {"node": "ci"}, "benchmarks": [{
    "group": null, "name": "test_sum", "fullname": "test_b.py::test_sum",
    "stats": {"min": 0.0000101, "max": 0.00005, "mean": 0.0000110, "stddev": 0.000001,
              "rounds": 4, "median": 0.0000108, "ops": 90909.1,
              "data": [0.0000101, 0.0000108, 0.0000112, 0.00005]}}],
    "datetime": "2026-12-02T08:00:00", "version": "3.2.2"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].name, "test_b.py::test_sum");
  EXPECT_NEAR((*r)[0].figures.at("mean"), 0.011, 1e-9);
  EXPECT_NEAR((*r)[0].figures.at("rps"), 90909.1, 1e-6);
  ASSERT_EQ((*r)[0].samples.size(), 4u);
  EXPECT_NEAR((*r)[0].samples[3], 0.05, 1e-9);
}

TEST(BenchmarkReport, K6SummaryTrendsAndRates) {
  auto r = parseBenchmarks(R"k6({"root_group": {}, "metrics": {
    "http_req_duration": {"avg": 12.5, "min": 3.1, "med": 10.2, "max": 80.0, "p(90)": 20.1, "p(95)": 25.3},
    "http_reqs": {"count": 1200, "rate": 199.7},
    "checks": {"passes": 10, "fails": 0, "value": 1}
  }})k6");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].name, "http_req_duration");
  EXPECT_EQ((*r)[0].figures.at("p95"), 25.3);
  EXPECT_EQ((*r)[0].figures.at("mean"), 12.5);
  EXPECT_EQ((*r)[1].figures.at("rps"), 199.7);
}

TEST(BenchmarkReport, ErroredRunsRateMetricsAndControlCharactersAreLeftOut) {
  auto gb = parseBenchmarks(R"({"benchmarks": [
    {"name": "BM_Bad", "run_type": "iteration", "error_occurred": true, "error_message": "x"},
    {"name": "BM_Bad", "run_type": "iteration", "real_time": 2, "time_unit": "ms"},
    {"name": "BM_\u001b[31mRed", "run_type": "iteration", "real_time": 1, "time_unit": "ms"}]})");
  ASSERT_TRUE(gb.ok()) << gb.status().message();
  ASSERT_EQ(gb->size(), 2u);
  EXPECT_EQ((*gb)[0].figures.at("mean"), 2);
  EXPECT_EQ((*gb)[1].name, "BM_ [31mRed");
  auto k = parseBenchmarks(
      R"({"metrics": {"http_req_failed": {"values": {"rate": 0.02, "passes": 2, "fails": 98}},
    "http_reqs": {"values": {"count": 100, "rate": 50.5}}}})");
  ASSERT_TRUE(k.ok()) << k.status().message();
  ASSERT_EQ(k->size(), 1u);  // the failure fraction is no rate per second
  EXPECT_EQ((*k)[0].name, "http_reqs");
  EXPECT_EQ((*k)[0].figures.at("rps"), 50.5);
}

TEST(BenchmarkReport, WhatIsNoReportIsRefusedAndNothingHostileIsKept) {
  EXPECT_FALSE(parseBenchmarks("").ok());
  EXPECT_FALSE(parseBenchmarks("hello").ok());
  EXPECT_FALSE(parseBenchmarks("{not json").ok());
  EXPECT_FALSE(parseBenchmarks(R"({"other": 1})").ok());
  EXPECT_FALSE(parseBenchmarks("Name,Other\nx,1\n").ok());
  // Wrong types are an error, not a crash; negative and absurd figures are dropped.
  EXPECT_FALSE(parseBenchmarks(R"({"benchmarks": [{"run_name": 5}]})").ok());
  auto odd =
      parseBenchmarks(R"({"benchmarks": [{"name": "x", "real_time": -4, "time_unit": "ms"}]})");
  ASSERT_TRUE(odd.ok()) << odd.status().message();
  EXPECT_FALSE((*odd)[0].figures.contains("mean"));
  // Many rounds are thinned to kMaxSamples, evenly.
  std::string many =
      R"({"machine_info": {}, "benchmarks": [{"name": "t", "stats": {"mean": 1, "data": [)";
  for (int i = 0; i < 5000; ++i) many += (i ? "," : "") + std::to_string(i);
  many += "]}}]}";
  auto thinned = parseBenchmarks(many);
  ASSERT_TRUE(thinned.ok());
  EXPECT_EQ((*thinned)[0].samples.size(), kMaxSamples);
  EXPECT_EQ((*thinned)[0].samples[1], 5000.0);  // 5 s in ms: every fifth round
}

}  // namespace
}  // namespace boucle::runner
