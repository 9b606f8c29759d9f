#include "core/histogram.h"

#include <algorithm>

namespace boucle {

void HistogramFamily::observe(const std::vector<std::string>& labelValues, double value) {
  std::lock_guard lock(mu_);
  auto& s = series_[labelValues];
  if (s.cumulative.empty()) s.cumulative.assign(bounds_.size() + 1, 0);
  // Cumulative: the observation counts in its bucket and every wider one.
  size_t first = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  for (size_t i = first; i < s.cumulative.size(); ++i) ++s.cumulative[i];
  ++s.count;
  s.sum += value;
}

std::map<std::vector<std::string>, HistogramCounts> HistogramFamily::snapshot() const {
  std::lock_guard lock(mu_);
  return series_;
}

}  // namespace boucle
