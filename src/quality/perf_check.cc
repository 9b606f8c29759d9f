#include "quality/perf_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace boucle::quality {

namespace {

// Exact distribution of U (pairs where the first sample is larger) for sizes n, m without
// ties: the number of orderings giving each U, by the recurrence
// N(n, m, u) = N(n - 1, m, u - m) + N(n, m - 1, u).
constexpr int kExactMax = 12;

double exactGreater(int n, int m, double u) {
  // counts[i][j][k] for i <= n, j <= m, k <= n*m, built bottom-up.
  int top = n * m;
  std::vector<std::vector<std::vector<double>>> c(
      static_cast<size_t>(n + 1),
      std::vector<std::vector<double>>(static_cast<size_t>(m + 1),
                                       std::vector<double>(static_cast<size_t>(top + 1), 0)));
  for (int i = 0; i <= n; ++i) {
    for (int j = 0; j <= m; ++j) {
      for (int k = 0; k <= i * j; ++k) {
        double v;
        if (i == 0 || j == 0) {
          v = k == 0 ? 1 : 0;
        } else {
          v = c[static_cast<size_t>(i)][static_cast<size_t>(j - 1)][static_cast<size_t>(k)];
          if (k - j >= 0)
            v += c[static_cast<size_t>(i - 1)][static_cast<size_t>(j)][static_cast<size_t>(k - j)];
        }
        c[static_cast<size_t>(i)][static_cast<size_t>(j)][static_cast<size_t>(k)] = v;
      }
    }
  }
  double total = 0, tail = 0;
  for (int k = 0; k <= top; ++k) {
    double v = c[static_cast<size_t>(n)][static_cast<size_t>(m)][static_cast<size_t>(k)];
    total += v;
    if (k >= u - 1e-9) tail += v;
  }
  return tail / total;
}

std::string fmt(double v, const std::string& figure) {
  char buf[64];
  if (figure == "rps") {
    std::snprintf(buf, sizeof buf, "%.1f/s", v);
  } else if (figure == "failures") {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (v >= 1000) {
    std::snprintf(buf, sizeof buf, "%.2f s", v / 1000);
  } else if (v >= 10) {
    std::snprintf(buf, sizeof buf, "%.1f ms", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.3f ms", v);
  }
  return buf;
}

// Whether samples of these sizes can reach `alpha` at all: the most extreme arrangement has
// p = 1 / C(n + m, n). Three repetitions a side never can at 0.05 (1/20): the figures alone
// judge then.
bool testable(size_t n, size_t m, double alpha) {
  if (n < 2 || m < 2) return false;
  double arrangements = 1;
  for (size_t i = 1; i <= n; ++i) {
    arrangements = arrangements * static_cast<double>(m + i) / static_cast<double>(i);
    if (arrangements * alpha > 1) return true;
  }
  return arrangements * alpha > 1;
}

}  // namespace

double mannWhitneyGreater(const std::vector<double>& worse, const std::vector<double>& better) {
  size_t n = worse.size(), m = better.size();
  if (n == 0 || m == 0) return 1;
  // Ranks over both, ties sharing their mean rank.
  std::vector<std::pair<double, int>> all;
  for (double v : worse) all.push_back({v, 0});
  for (double v : better) all.push_back({v, 1});
  std::sort(all.begin(), all.end());
  double rankSum = 0, tieTerm = 0;
  bool ties = false;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    double t = static_cast<double>(j - i);
    if (t > 1) {
      ties = true;
      tieTerm += t * t * t - t;
    }
    for (size_t k = i; k < j; ++k)
      if (all[k].second == 0) rankSum += rank;
    i = j;
  }
  double nn = static_cast<double>(n), mm = static_cast<double>(m);
  double u = rankSum - nn * (nn + 1) / 2;
  if (!ties && n <= kExactMax && m <= kExactMax)
    return exactGreater(static_cast<int>(n), static_cast<int>(m), u);
  double mean = nn * mm / 2;
  double total = nn + mm;
  double var = nn * mm / 12 * ((total + 1) - tieTerm / (total * (total - 1)));
  if (var <= 0) return 1;
  double z = (u - mean - 0.5) / std::sqrt(var);
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

PerfVerdict judgePerformance(const std::vector<runner::Measurement>& baseline,
                             const std::vector<runner::Measurement>& candidate,
                             const PerfLimit& limit) {
  PerfVerdict v;
  std::map<std::string, const runner::Measurement*> before;
  for (const auto& m : baseline) before[m.name] = &m;
  bool higher = runner::higherIsBetter(limit.figure);
  for (const auto& cand : candidate) {
    if (!limit.name.empty() && cand.name != limit.name) continue;
    auto it = before.find(cand.name);
    if (it == before.end()) continue;
    const runner::Measurement& base = *it->second;
    auto b = base.figures.find(limit.figure);
    auto c = cand.figures.find(limit.figure);
    if (b == base.figures.end() || c == cand.figures.end()) continue;
    PerfComparison pc;
    pc.name = cand.name;
    pc.figure = limit.figure;
    pc.baseline = b->second;
    pc.candidate = c->second;
    double worseBy = higher ? pc.baseline - pc.candidate : pc.candidate - pc.baseline;
    pc.change = pc.baseline > 0 ? worseBy / pc.baseline : (worseBy > 0 ? INFINITY : 0);
    pc.baselineSamples = base.samples.size();
    pc.candidateSamples = cand.samples.size();
    bool beyond = pc.change > limit.maxRegression && worseBy > limit.floor;
    bool significant = true;
    if (testable(base.samples.size(), cand.samples.size(), limit.alpha)) {
      // Samples are single measurements' times whatever the figure: a slower candidate's, a
      // rate's drop included, tend larger.
      pc.p = mannWhitneyGreater(cand.samples, base.samples);
      significant = *pc.p < limit.alpha;
    }
    pc.regression = beyond && significant;
    char pct[32];
    std::snprintf(pct, sizeof pct, "%+.0f%%", pc.change * 100);
    pc.text = limit.figure + " of " + pc.name + ": " + fmt(pc.baseline, limit.figure) + " → " +
              fmt(pc.candidate, limit.figure) + " (" + pct + "; limit " +
              std::to_string(static_cast<int>(std::lround(limit.maxRegression * 100))) + "%";
    if (limit.floor > 0) pc.text += ", floor " + fmt(limit.floor, limit.figure);
    if (pc.p) {
      char p[48];
      std::snprintf(p, sizeof p, "; Mann-Whitney p=%.3g over %zu and %zu samples", *pc.p,
                    pc.baselineSamples, pc.candidateSamples);
      pc.text += p;
    }
    pc.text += ")";
    if (pc.regression) {
      pc.text += ": slower";
    } else if (beyond && !significant) {
      pc.text += ": within the noise";
    } else {
      pc.text += ": holds";
    }
    v.comparisons.push_back(std::move(pc));
  }
  // A measurement the release running now had and the candidate lacks is no pass: a renamed or
  // dropped measurement would otherwise leave only the easy ones to compare.
  std::map<std::string, bool> present;
  for (const auto& cand : candidate) present[cand.name] = cand.figures.contains(limit.figure);
  for (const auto& base : baseline) {
    if (!limit.name.empty() && base.name != limit.name) continue;
    if (!base.figures.contains(limit.figure)) continue;
    if (!present[base.name]) {
      v.passed = false;
      v.summary = "'" + base.name + "' was measured (" + limit.figure +
                  ") for the release running now but not for this one";
      return v;
    }
  }
  if (v.comparisons.empty()) {
    v.passed = false;
    v.summary = "nothing to compare: no " + limit.figure +
                (limit.name.empty() ? "" : " of '" + limit.name + "'") +
                " measured on both the release running now and the candidate";
    return v;
  }
  for (const auto& c : v.comparisons) {
    if (c.regression && v.passed) {
      v.passed = false;
      v.summary = "performance regression: " + c.text;
    }
  }
  if (v.passed) {
    v.summary = "performance holds: " + std::to_string(v.comparisons.size()) + " measurement" +
                (v.comparisons.size() == 1 ? "" : "s") + " within the limit";
  }
  return v;
}

}  // namespace boucle::quality
