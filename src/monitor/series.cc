#include "monitor/series.h"

#include <algorithm>
#include <cmath>

namespace boucle::monitor {

namespace {

constexpr int64_t kMinute = 60'000;

int64_t rank(const std::vector<int64_t>& sorted, double q) {
  auto r = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(r, 1, sorted.size()) - 1];
}

// Rollups whose minute lies in [from, to).
template <typename F>
void over(const std::vector<Rollup>& rollups, int64_t from, int64_t to, F each) {
  auto it = std::lower_bound(rollups.begin(), rollups.end(), from,
                             [](const Rollup& r, int64_t t) { return r.minuteMs < t; });
  for (; it != rollups.end() && it->minuteMs < to; ++it) each(*it);
}

}  // namespace

std::vector<Rollup> rollUp(std::vector<Sample> samples, std::optional<int64_t> slowerThanMs) {
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.atMs < b.atMs; });
  std::vector<Rollup> out;
  std::vector<int64_t> latencies;
  auto close = [&] {
    if (out.empty() || latencies.empty()) return;
    std::sort(latencies.begin(), latencies.end());
    out.back().p50Ms = rank(latencies, 0.5);
    out.back().p95Ms = rank(latencies, 0.95);
    out.back().p99Ms = rank(latencies, 0.99);
    latencies.clear();
  };
  for (const auto& s : samples) {
    int64_t minute = s.atMs - ((s.atMs % kMinute) + kMinute) % kMinute;
    if (out.empty() || out.back().minuteMs != minute) {
      close();
      out.push_back({});
      out.back().minuteMs = minute;
    }
    Rollup& r = out.back();
    ++r.count;
    if (s.verdict != Verdict::kPass) ++r.failures;
    if (s.verdict == Verdict::kNoData) ++r.noData;
    if (slowerThanMs && s.latencyMs > *slowerThanMs) ++r.slow;
    latencies.push_back(s.latencyMs);
  }
  close();
  return out;
}

Budget budgetOf(const std::vector<Rollup>& rollups, const Slo& slo, int64_t nowMs) {
  Budget b;
  std::vector<int64_t> p95s;
  over(rollups, nowMs - slo.windowMs, nowMs, [&](const Rollup& r) {
    b.total += r.count;
    b.good += r.count - r.failures;
    p95s.push_back(r.p95Ms);
  });
  if (b.total == 0) return b;
  b.availability = 100.0 * static_cast<double>(b.good) / static_cast<double>(b.total);
  if (slo.availability && *slo.availability < 100) {
    double allowed = 1 - *slo.availability / 100;
    double spent = (1 - *b.availability / 100) / allowed;
    b.budgetLeft = 1 - spent;
  }
  // The window's p95 read from the minutes' p95s: the samples themselves are gone after 48 h.
  std::sort(p95s.begin(), p95s.end());
  b.p95Ms = rank(p95s, 0.95);
  return b;
}

std::optional<double> burnRate(const std::vector<Rollup>& rollups, const Slo& slo, int64_t nowMs,
                               int64_t spanMs) {
  if (!slo.availability || *slo.availability >= 100) return std::nullopt;
  int64_t total = 0, bad = 0;
  over(rollups, nowMs - spanMs, nowMs, [&](const Rollup& r) {
    total += r.count;
    bad += r.failures;
  });
  if (total == 0) return std::nullopt;
  double errorRate = static_cast<double>(bad) / static_cast<double>(total);
  return errorRate / (1 - *slo.availability / 100);
}

BurnAlert burnAlert(const std::vector<Rollup>& rollups, const Slo& slo, int64_t nowMs) {
  auto both = [&](int64_t longMs, int64_t shortMs, double factor) {
    auto l = burnRate(rollups, slo, nowMs, longMs);
    auto s = burnRate(rollups, slo, nowMs, shortMs);
    return l && s && *l >= factor && *s >= factor;
  };
  if (both(60 * kMinute, 5 * kMinute, 14.4)) return BurnAlert::kPage;
  if (both(360 * kMinute, 30 * kMinute, 6)) return BurnAlert::kTicket;
  return BurnAlert::kNone;
}

}  // namespace boucle::monitor
