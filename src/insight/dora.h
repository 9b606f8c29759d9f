#pragma once
// DORA's four keys for one environment over a period, and the fifth its 2024 report added
// (rework rate), computed from what the store already links: the deploys to the environment,
// the commits each brought there first, and the incidents. Pure: the caller gathers the rows,
// this only counts; docs/dora.md gives the definitions and the bands.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boucle::insight {

struct DoraCommit {
  std::string sha;
  int64_t authoredAtMs = 0;
  std::optional<int64_t> firstBuiltAtMs;  // the start of the first run that built it
};

struct DoraDeploy {
  int64_t id = 0;
  std::string version;
  std::string state;      // "succeeded", "failed", "rolled_back"; others are not counted
  bool rollback = false;  // asked for by hand (`boucle rollback`) to undo the release before
  int64_t startedAtMs = 0;
  int64_t finishedAtMs = 0;
  std::vector<DoraCommit> commits;  // those this deploy brought to the environment first
};

struct DoraIncident {
  int64_t id = 0;
  int64_t openedAtMs = 0;
  std::optional<int64_t> resolvedAtMs;
};

// The four bands of the DORA report (docs/dora.md: which year's, and the thresholds).
enum class Band { kElite, kHigh, kMedium, kLow };
std::string_view toString(Band b);

struct LeadTime {
  std::string commit;
  int64_t deployId = 0;
  int64_t fromAuthorMs = 0;                 // the commit's author time → the deploy's end
  std::optional<int64_t> fromFirstBuildMs;  // its first build's start → the deploy's end
};

// A change that failed, with its cause, and when the environment was healthy again.
struct Failure {
  int64_t deployId = 0;
  std::string version;
  std::string cause;  // "failed", "rolled_back", "rolled_back_by_hand", "incident"
  int64_t atMs = 0;   // when the failure began
  std::optional<int64_t> recoveredAtMs;
  int64_t incidentId = 0;  // for "incident"
};

struct DoraReport {
  int64_t fromMs = 0, toMs = 0;

  // Deployment frequency: successful deploys that ended in the period (rollbacks by hand
  // are recoveries, not changes).
  int deploys = 0;
  double perDay = 0, perWeek = 0;
  std::string frequency;  // DORA's reading: "on demand (daily or more)", "between once a day
                          // and once a week", …, "none" (docs/dora.md)
  std::optional<Band> frequencyBand;

  // Lead time for changes, one row per commit first brought by a deploy of the period.
  std::vector<LeadTime> leadTimes;
  std::optional<int64_t> leadMedianMs, leadP90Ms;            // from author time
  std::optional<int64_t> buildLeadMedianMs, buildLeadP90Ms;  // from the first build
  std::optional<Band> leadBand;

  // Change failure rate: of the changes deployed in the period (succeeded, failed or rolled
  // back; not rollbacks by hand), those that failed, each once, with its first cause.
  int changes = 0;
  std::vector<Failure> failures;
  std::optional<double> failureRate;  // 0..1
  std::optional<Band> failureBand;

  // Failed deployment recovery time: from each failure to the first healthy state after it.
  std::optional<int64_t> recoveryMedianMs;
  std::optional<Band> recoveryBand;

  // Rework rate: the share of deploys (rollbacks by hand included) started while the
  // environment was failing (an incident open, a failed deploy not yet recovered from).
  int deploysAll = 0;
  int reworkDeploys = 0;
  std::optional<double> reworkRate;
};

// `deploys` and `incidents` of one environment, in any order; those outside the period are
// used only to tell what was live and when it recovered. `toMs` is also "now": a release
// deployed last is live until then.
DoraReport computeDora(const std::vector<DoraDeploy>& deploys, std::vector<DoraIncident> incidents,
                       int64_t fromMs, int64_t toMs);

// The value at quantile q (0..1) of `values`, by nearest rank; empty: none.
std::optional<int64_t> nearestRank(std::vector<int64_t> values, double q);

}  // namespace boucle::insight
