// What the monitors say: GET /api/projects/P/monitors (docs/api.yaml).
#include <memory>
#include <nlohmann/json.hpp>

#include "api/response_cache.h"
#include "api/route_helpers.h"
#include "core/clock.h"
#include "monitor/health.h"

namespace boucle::api {

using nlohmann::json;

namespace {

constexpr int64_t kRecentMs = 3'600'000;  // the sparkline's hour

template <class T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json();
}

// "up" (passing), "down" (an incident is open or the last verdict failed), "no_data",
// "pending" (no verdict yet).
json healthJson(const monitor::MonitorHealth& h) {
  const auto& s = h.status;
  json recent = json::array();
  for (const auto& r : h.recent) {
    recent.push_back({{"minute_ms", r.minuteMs},
                      {"count", r.count},
                      {"failures", r.failures},
                      {"p50_ms", r.p50Ms},
                      {"p95_ms", r.p95Ms},
                      {"p99_ms", r.p99Ms}});
  }
  json slo;
  if (h.budget) {
    slo = {{"availability", opt(s.sloAvailability)},
           {"p95_ms", opt(s.sloP95Ms)},
           {"window_ms", s.sloWindowMs},
           {"measured_availability", opt(h.budget->availability)},
           {"measured_p95_ms", opt(h.budget->p95Ms)},
           {"budget_left", opt(h.budget->budgetLeft)},
           {"samples", h.budget->total},
           {"burn", s.burn}};
  }
  return {{"env", s.env},
          {"monitor", s.monitor},
          {"host", s.host},
          {"release", s.release},
          {"kind", s.kind},
          {"every_ms", s.everyMs},
          {"state", monitor::stateOf(s)},
          {"verdict", s.seen ? json(std::string(monitor::toString(s.verdict))) : json()},
          {"at_ms", s.seen ? json(s.atMs) : json()},
          {"latency_ms", s.seen ? json(s.latencyMs) : json()},
          {"detail", s.detail},
          {"streak", s.streak},
          {"incident_id", opt(s.incidentId)},
          {"slo", slo},
          {"recent", recent}};
}

}  // namespace

void addMonitorRoutes(Router& r, const ApiContext& c) {
  auto cache = std::make_shared<RevisionCache<std::vector<monitor::MonitorHealth>>>();
  r.add("GET", "/api/projects/{name}/monitors", Access::kRead,
        [&c, cache](const Request& req, const Params& p) {
          auto project = c.store->getProject(p.at("name"));
          if (!project.ok()) return fromStatus(project.status());
          std::string env = req.query.count("env") ? req.query.at("env") : "";
          std::vector<monitor::ProbeStatus> statuses;
          std::vector<std::string> problems;
          if (c.watcher) {
            for (auto& s : c.watcher->statuses(project->name)) {
              if (env.empty() || s.env == env) statuses.push_back(std::move(s));
            }
            for (auto& why : c.watcher->problems()) {
              if (why.rfind(project->name + "/", 0) == 0) problems.push_back(std::move(why));
            }
          }
          // Rollups change once a minute: budgets and sparklines are kept for the minute
          // (a dashboard polling every second reads the window once), the last verdicts are
          // always today's.
          std::string key = project->name + "\n" + env;
          for (const auto& s : statuses) key += "\n" + s.monitor + "\n" + s.host + "\n" + s.release;
          auto now = nowMs();
          auto health = cache->get(key, static_cast<uint64_t>(now / 60'000));
          if (!health) {
            auto made = monitor::healthOf(*c.store, project->name, statuses, now, kRecentMs);
            if (!made.ok()) return fromStatus(made.status());
            cache->put(key, static_cast<uint64_t>(now / 60'000), *made);
            health = std::move(*made);
          }
          for (size_t i = 0; i < health->size() && i < statuses.size(); ++i)
            (*health)[i].status = statuses[i];
          json list = json::array();
          for (const auto& h : *health) list.push_back(healthJson(h));
          return ok(200, json{{"monitors", list}, {"problems", problems}});
        });
}

}  // namespace boucle::api
