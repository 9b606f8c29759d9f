// DORA's figures for an environment (docs/dora.md): GET /api/projects/P/dora?env=prod&since=30d.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/duration.h"
#include "insight/dora_history.h"

namespace boucle::api {

using nlohmann::json;

namespace {

json opt(const std::optional<int64_t>& v) {
  return v ? json(*v) : json();
}
json opt(const std::optional<double>& v) {
  return v ? json(*v) : json();
}
json band(const std::optional<insight::Band>& b) {
  return b ? json(std::string(insight::toString(*b))) : json();
}

json failureJson(const insight::Failure& f) {
  json recovery;
  if (f.recoveredAtMs) recovery = std::max<int64_t>(0, *f.recoveredAtMs - f.atMs);
  return {{"deploy_id", f.deployId},
          {"version", f.version},
          {"cause", f.cause},
          {"at_ms", f.atMs},
          {"recovered_at_ms", opt(f.recoveredAtMs)},
          {"recovery_ms", recovery},
          {"incident_id", f.incidentId ? json(f.incidentId) : json()}};
}

}  // namespace

json doraJson(const insight::DoraReport& r, const std::string& project, const std::string& env) {
  json leads = json::array();
  for (const auto& l : r.leadTimes) {
    leads.push_back({{"commit", l.commit},
                     {"deploy_id", l.deployId},
                     {"from_author_ms", l.fromAuthorMs},
                     {"from_first_build_ms", opt(l.fromFirstBuildMs)}});
  }
  json failures = json::array();
  for (const auto& f : r.failures) failures.push_back(failureJson(f));
  return {
      {"project", project},
      {"env", env},
      {"from_ms", r.fromMs},
      {"to_ms", r.toMs},
      {"deployment_frequency",
       {{"deploys", r.deploys},
        {"per_day", r.perDay},
        {"per_week", r.perWeek},
        {"reading", r.frequency},
        {"band", band(r.frequencyBand)}}},
      {"lead_time",
       {{"median_ms", opt(r.leadMedianMs)},
        {"p90_ms", opt(r.leadP90Ms)},
        {"from_first_build",
         {{"median_ms", opt(r.buildLeadMedianMs)}, {"p90_ms", opt(r.buildLeadP90Ms)}}},
        {"band", band(r.leadBand)},
        {"rows", leads}}},
      {"change_failure_rate",
       {{"changes", r.changes},
        {"failures", r.failures.size()},
        {"value", opt(r.failureRate)},
        {"band", band(r.failureBand)},
        {"rows", failures}}},
      {"recovery_time", {{"median_ms", opt(r.recoveryMedianMs)}, {"band", band(r.recoveryBand)}}},
      {"rework_rate",
       {{"deploys", r.deploysAll}, {"rework", r.reworkDeploys}, {"value", opt(r.reworkRate)}}}};
}

void addDoraRoutes(Router& r, const ApiContext& c) {
  r.add("GET", "/api/projects/{name}/dora", Access::kRead,
        [&c](const Request& req, const Params& p) {
          auto project = c.store->getProject(p.at("name"));
          if (!project.ok()) return fromStatus(project.status());
          std::string env = req.query.count("env") ? req.query.at("env") : "prod";
          std::string since = req.query.count("since") ? req.query.at("since") : "30d";
          auto d = parseDuration(since);
          if (!d || d->count() <= 0)
            return errorResponse(400, "since: a duration such as 30d, 12w or 24h");
          int64_t to = nowMs();
          auto report = insight::doraOf(*c.store, project->name, env, to - d->count(), to);
          if (!report.ok()) return fromStatus(report.status());
          return ok(200, doraJson(*report, project->name, env));
        });
}

}  // namespace boucle::api
