#pragma once
// How each monitor is doing, for the API and the web UI: what it said last, the error budget
// its SLO leaves over its window, and its last hour minute by minute (a sparkline).

#include <cstdint>
#include <vector>

#include "monitor/series.h"
#include "monitor/watcher.h"
#include "store/store.h"

namespace boucle::monitor {

struct MonitorHealth {
  ProbeStatus status;
  std::optional<Budget> budget;  // with an SLO
  std::vector<Rollup> recent;    // every release's, oldest first
};

// Reads the rollups of each probe's series (every release it watched).
Result<std::vector<MonitorHealth>> healthOf(store::Store& store, const std::string& project,
                                            const std::vector<ProbeStatus>& statuses, int64_t nowMs,
                                            int64_t recentMs);

}  // namespace boucle::monitor
