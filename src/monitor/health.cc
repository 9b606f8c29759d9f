#include "monitor/health.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace boucle::monitor {

Result<std::vector<MonitorHealth>> healthOf(store::Store& store, const std::string& project,
                                            const std::vector<ProbeStatus>& statuses, int64_t nowMs,
                                            int64_t recentMs) {
  auto series = store.listMonitorSeries(project);
  if (!series.ok()) return series.status();
  // Each place's series (one per release it ran), found once.
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<int64_t>> byPlace;
  for (const auto& x : *series) byPlace[{x.env, x.monitor, x.host}].push_back(x.id);
  std::vector<MonitorHealth> out;
  for (const auto& s : statuses) {
    MonitorHealth h;
    h.status = s;
    bool slo = s.sloAvailability || s.sloP95Ms;
    int64_t from = nowMs - std::max(recentMs, slo ? s.sloWindowMs : 0);
    std::vector<Rollup> all;
    for (int64_t id : byPlace[{s.env, s.monitor, s.host}]) {
      auto rows = store.monitorRollups(id, from);
      if (!rows.ok()) return rows.status();
      for (const auto& r : *rows) {
        all.push_back(
            {r.minuteMs, r.count, r.failures, r.noData, r.p50Ms, r.p95Ms, r.p99Ms, r.slow});
      }
    }
    std::sort(all.begin(), all.end(),
              [](const Rollup& a, const Rollup& b) { return a.minuteMs < b.minuteMs; });
    if (slo) h.budget = budgetOf(all, Slo{s.sloAvailability, s.sloP95Ms, s.sloWindowMs}, nowMs);
    for (const auto& r : all) {
      if (r.minuteMs >= nowMs - recentMs) h.recent.push_back(r);
    }
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace boucle::monitor
