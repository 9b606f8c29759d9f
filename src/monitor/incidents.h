#pragma once
// Incidents as people and other tools raise them: opened by hand, by an Alertmanager alert,
// or (later) by a monitor; each names the release live in its environment when it began and
// the deploy that brought it, and keeps a timeline.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace boucle::monitor {

struct OpenRequest {
  std::string project, env;
  std::string source;   // "manual", "alertmanager", "monitor"
  std::string monitor;  // the monitor's or alert's name
  std::string fingerprint;
  std::string title;
  std::string actor;
  int64_t atMs = 0;
};

// Opens it, naming what runs in the environment now. Invalid when the project's policy (read
// from `mirror`) has no such environment: an incident there would be counted nowhere.
Result<store::Incident> openIncident(store::Store& store, const std::filesystem::path& mirror,
                                     const OpenRequest& r);

// At most this many alerts of one delivery are taken; the rest are ignored, saying so.
inline constexpr size_t kMaxAlertsPerDelivery = 100;

// Prometheus Alertmanager's webhook (version 4): each firing alert opens an incident in the
// environment its `env` (or `environment`) label names, unless one with its fingerprint is
// open; each resolved alert resolves that one. Returns what changed, for the answer.
struct AlertOutcome {
  std::vector<int64_t> opened, resolved;
  std::vector<std::string> ignored;  // why an alert changed nothing
};
Result<AlertOutcome> takeAlerts(store::Store& store, const std::filesystem::path& mirror,
                                const std::string& project, const std::string& payload,
                                const std::string& actor, int64_t nowMs);

// A deploy that ended in an environment joins the timeline of its open incidents ("deploy 12:
// 1.4.1 succeeded, after 1.4.0"; a rollback says so).
Status noteDeploy(store::Store& store, const store::Deploy& d);

}  // namespace boucle::monitor
