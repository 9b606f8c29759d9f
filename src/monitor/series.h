#pragma once
// A monitor's samples over time: one-minute rollups (kept 90 days where raw samples are kept
// 48 hours), and what its SLO makes of them: the error budget left over the SLO's window and
// the multi-window burn-rate alerts of Google's SRE workbook (chapter "Alerting on SLOs"):
// page when the last hour and the last 5 minutes both burn the budget 14.4 times as fast as
// the window allows, ticket when the last 6 hours and 30 minutes both burn it 6 times as fast.
// Pure; the store keeps the rows.

#include <cstdint>
#include <optional>
#include <vector>

#include "monitor/incident_tracker.h"

namespace boucle::monitor {

struct Sample {
  int64_t atMs = 0;
  Verdict verdict = Verdict::kPass;
  int64_t latencyMs = 0;
};

struct Rollup {
  int64_t minuteMs = 0;  // the minute's start
  int count = 0;
  int failures = 0;  // not passes: failures and no_data
  int noData = 0;
  int64_t p50Ms = 0, p95Ms = 0, p99Ms = 0;  // latency, nearest rank, over every sample
  // Samples slower than the SLO's p95 target, if it has one (for the latency objective).
  int slow = 0;
};

// One rollup per minute that has samples, in order. `slowerThanMs` counts `slow`.
std::vector<Rollup> rollUp(std::vector<Sample> samples, std::optional<int64_t> slowerThanMs = {});

struct Slo {
  std::optional<double> availability;  // percent, e.g. 99.9
  std::optional<int64_t> p95Ms;        // 95% of samples at most this slow
  int64_t windowMs = 30LL * 24 * 3600 * 1000;
};

struct Budget {
  int64_t good = 0, total = 0;
  std::optional<double> availability;  // measured, percent
  std::optional<double> budgetLeft;    // share of the error budget left (1 = untouched, < 0 spent)
  std::optional<int64_t> p95Ms;        // measured over the window (from the rollups' p95s)
};

// Over the SLO's window up to `nowMs`.
Budget budgetOf(const std::vector<Rollup>& rollups, const Slo& slo, int64_t nowMs);

// How fast the availability budget burns over the last `spanMs` (1 = exactly as fast as the
// window allows); none without samples there or without an availability objective.
std::optional<double> burnRate(const std::vector<Rollup>& rollups, const Slo& slo, int64_t nowMs,
                               int64_t spanMs);

enum class BurnAlert { kNone, kTicket, kPage };
BurnAlert burnAlert(const std::vector<Rollup>& rollups, const Slo& slo, int64_t nowMs);

}  // namespace boucle::monitor
