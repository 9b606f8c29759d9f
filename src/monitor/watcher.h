#pragma once
// The monitors of `boucle server`: keeps the prober's probes in step with what is deployed,
// stores each verdict (a raw sample, then one-minute rollups; raw kept 48 hours, rollups 90
// days), opens an incident after `fail_after` failures in a row and resolves it after
// `recover_after` passes, and keeps what each probe said last for the API and /metrics.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/secret_box.h"
#include "core/clock.h"
#include "core/duration.h"
#include "monitor/probe.h"
#include "store/store.h"

namespace boucle::monitor {

struct ProbeStatus;

struct WatcherOptions {
  std::filesystem::path dataDir;  // the local driver's environments
  // The projects' mirrors (repos/): the folder the servers share, or "" for dataDir.
  std::filesystem::path sharedDir;
  const std::filesystem::path& shared() const { return sharedDir.empty() ? dataDir : sharedDir; }
  const auth::SecretBox* secrets = nullptr;
  // An incident was opened ("incident") or resolved ("resolved") by a monitor.
  std::function<void(const store::Incident&, const std::string& event)> onIncident;
  // A probe's state (stateOf) changed with its last verdict: the live events. On the
  // watcher's thread: keep it short.
  std::function<void(const ProbeStatus&)> onStateChange;
  // How often the plan is made again without being asked (values may have changed).
  Millis replanEvery = std::chrono::minutes(1);
  Millis rawKept = std::chrono::hours(48);
  Millis rollupsKept = std::chrono::hours(24 * 90);
  // Whether this server leads those sharing its database: only the leader probes, rolls up
  // and prunes (unset: it does).
  std::function<bool()> leads;
};

// What one probe said last.
struct ProbeStatus {
  std::string project, env, monitor, host, release;
  std::string kind;  // "http", "tcp", "run", "prometheus"
  int64_t everyMs = 0;
  bool seen = false;  // false until its first verdict
  Verdict verdict = Verdict::kPass;
  int64_t atMs = 0, latencyMs = 0;
  std::string detail;
  int streak = 0;  // verdicts in a row toward the next change
  std::optional<int64_t> incidentId;
  uint64_t passes = 0, failures = 0, noData = 0;  // since the server started
  std::optional<double> sloAvailability;
  std::optional<int64_t> sloP95Ms;
  int64_t sloWindowMs = 0;
  std::string burn = "none";  // the SLO's burn-rate alert: "none", "ticket" or "page"
};

// What the probe's last verdicts make it: "pending" (none yet), "up", "failing" (not passing,
// no incident yet), "no_data" (the last verdict found nothing), "down" (its incident is open).
std::string_view stateOf(const ProbeStatus& s);

class Watcher {
 public:
  Watcher(store::Store& store, WatcherOptions options);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  void start();
  void stop();
  // Makes the plan again soon: a deploy ended, values changed.
  void replan();

  // `project` empty = every project's; ordered by project, environment, monitor, host.
  std::vector<ProbeStatus> statuses(std::string_view project) const;
  // Why some monitors are not watched (missing values, bad hosts), from the last plan.
  std::vector<std::string> problems() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace boucle::monitor
