#pragma once
// Histograms as Prometheus counts them: for each upper bound, how many observations were at
// most that (cumulative), with their sum and count, per set of label values. Kept in memory
// (they start again at a restart, which Prometheus' rate() and histogram_quantile() expect of
// counters). prometheus-cpp (Debian's prometheus-cpp-dev) would keep these in its registry, but
// /metrics' other figures are read from the store at each scrape and written as text
// (api/metrics_routes.cc): for two histograms, twenty lines here rather than a second model.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace boucle {

struct HistogramCounts {
  std::vector<uint64_t> cumulative;  // one per bound, then +Inf
  uint64_t count = 0;
  double sum = 0;
};

class HistogramFamily {
 public:
  // `bounds` ascending; `labels` the label names, in the order values are given.
  HistogramFamily(std::vector<double> bounds, std::vector<std::string> labels)
      : bounds_(std::move(bounds)), labels_(std::move(labels)) {}

  void observe(const std::vector<std::string>& labelValues, double value);

  const std::vector<double>& bounds() const { return bounds_; }
  const std::vector<std::string>& labels() const { return labels_; }
  // Every series seen so far, by its label values.
  std::map<std::vector<std::string>, HistogramCounts> snapshot() const;

 private:
  std::vector<double> bounds_;
  std::vector<std::string> labels_;
  mutable std::mutex mu_;  // guards series_
  std::map<std::vector<std::string>, HistogramCounts> series_;
};

}  // namespace boucle
