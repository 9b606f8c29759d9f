#pragma once
// Reads the performance results a job reports (`reports: {benchmark: FILE}`), in the formats
// people use: Google Benchmark's JSON (--benchmark_out), Locust's --csv statistics
// (PREFIX_stats.csv), k6's --summary-export JSON and pytest-benchmark's JSON
// (--benchmark-json). Each becomes named measurements with the same figures: times in
// milliseconds, rates per second.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace boucle::runner {

// One benchmark, endpoint or metric and its figures. Figures: "mean", "median", "p90", "p95",
// "p99", "min", "max" (milliseconds), "rps" (per second), "failures" (a count).
struct Measurement {
  std::string name;    // "BM_Parse", "GET /health", "http_req_duration", "test_sum"
  std::string source;  // "google-benchmark", "locust", "k6", "pytest-benchmark"
  std::map<std::string, double> figures;
  // Single measurements in milliseconds where the report has them (Google Benchmark's
  // repetitions, pytest-benchmark's rounds): what a statistical test compares. At most
  // kMaxSamples, taken evenly.
  std::vector<double> samples;
};

inline constexpr size_t kMaxSamples = 1000;
inline constexpr size_t kMaxMeasurements = 1000;

// Whether a larger value of the figure is better (a rate) rather than worse (a time, failures).
bool higherIsBetter(std::string_view figure);
// The figures a gate may name.
bool knownFigure(std::string_view figure);

// The report's measurements; the format is told from the text. Invalid (saying which format
// was expected and why) when it is none of them.
Result<std::vector<Measurement>> parseBenchmarks(std::string_view text);

}  // namespace boucle::runner
