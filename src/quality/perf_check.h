#pragma once
// Judging a release's performance against the one it would replace: the figure the
// environment's `perf:` names, compared measurement by measurement. Where both sides have
// single measurements (repetitions, rounds), a one-sided Mann-Whitney U test says whether the
// candidate is slower beyond chance; the regression must also pass a relative limit and an
// absolute floor, so noise on a shared machine does not block a release.

#include <optional>
#include <string>
#include <vector>

#include "runner/benchmark_report.h"

namespace boucle::quality {

// The one-sided p-value that `worse` tends to larger values than `better` (Mann-Whitney U,
// exact for small samples without ties, else the normal approximation with the tie and
// continuity corrections). 1 when either side is empty.
double mannWhitneyGreater(const std::vector<double>& worse, const std::vector<double>& better);

struct PerfLimit {
  std::string figure = "p95";   // runner::Measurement figures
  double maxRegression = 0.10;  // relative: 0.10 = 10% worse
  double floor = 0;             // absolute, in the figure's unit: smaller changes never count
  double alpha = 0.05;          // the significance a test with samples needs
  std::string name;             // only this measurement ("" every one both sides have)
};

struct PerfComparison {
  std::string name;
  std::string figure;
  double baseline = 0, candidate = 0;
  double change = 0;        // relative, positive = worse
  std::optional<double> p;  // when both sides had samples
  size_t baselineSamples = 0, candidateSamples = 0;
  bool regression = false;
  std::string text;  // for people: "p95 of GET /: 12.0 ms → 19.5 ms (+62%, …): regression"
};

struct PerfVerdict {
  bool passed = true;
  std::vector<PerfComparison> comparisons;
  std::string summary;  // one line: what stopped it, or that it held
};

// Compares each measurement both sides have (the limit's `name` alone when set). A figure
// missing on either side is no comparison; none at all is a failure (nothing was measured).
PerfVerdict judgePerformance(const std::vector<runner::Measurement>& baseline,
                             const std::vector<runner::Measurement>& candidate,
                             const PerfLimit& limit);

}  // namespace boucle::quality
