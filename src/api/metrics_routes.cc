// GET /metrics: boucle in Prometheus' text exposition format (version 0.0.4), for a scraper
// holding a `viewer` or `metrics` token. Figures from the store are kept while its revision
// stays the same (monitors' samples do not change it); the monitors' own are read live.
#include <fmt/core.h>

#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "api/response_cache.h"
#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/histogram.h"
#include "insight/dora_history.h"
#include "scheduler/agent.h"

namespace boucle::api {

namespace {

constexpr int64_t kDoraSpanMs = 30LL * 24 * 3600 * 1000;

// A label value with \, " and new lines escaped, as the format asks.
std::string escaped(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(text_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  void sample(std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
              double value) {
    text_ += name;
    if (labels.size() > 0) {
      text_ += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) text_ += ',';
        first = false;
        fmt::format_to(std::back_inserter(text_), "{}=\"{}\"", k, escaped(v));
      }
      text_ += '}';
    }
    if (std::isnan(value)) {
      text_ += " NaN\n";
    } else {
      fmt::format_to(std::back_inserter(text_), " {}\n", value);
    }
  }
  // A histogram's _bucket (cumulative, `le` last), _sum and _count lines for each series.
  void histogram(std::string_view name, std::string_view help, const HistogramFamily& h) {
    family(name, "histogram", help);
    std::string bucket = std::string(name) + "_bucket";
    for (const auto& [values, counts] : h.snapshot()) {
      std::string labels;
      for (size_t i = 0; i < values.size() && i < h.labels().size(); ++i) {
        fmt::format_to(std::back_inserter(labels), "{}=\"{}\",", h.labels()[i], escaped(values[i]));
      }
      for (size_t i = 0; i < counts.cumulative.size(); ++i) {
        std::string le = i < h.bounds().size() ? fmt::format("{}", h.bounds()[i]) : "+Inf";
        fmt::format_to(std::back_inserter(text_), "{}{{{}le=\"{}\"}} {}\n", bucket, labels, le,
                       counts.cumulative[i]);
      }
      if (!labels.empty()) labels.pop_back();
      fmt::format_to(std::back_inserter(text_), "{}_sum{{{}}} {}\n{}_count{{{}}} {}\n", name,
                     labels, counts.sum, name, labels, counts.count);
    }
  }
  std::string& text() { return text_; }

 private:
  std::string text_;
};

// Everything read from the store: counts by state and DORA's figures.
Result<std::string> storeFigures(store::Store& s) {
  Exposition e;
  auto runs = s.countByState(store::Counted::kRuns);
  auto jobs = s.countByState(store::Counted::kJobs);
  auto deploys = s.countByState(store::Counted::kDeploys);
  auto incidents = s.countByState(store::Counted::kOpenIncidents);
  for (const auto* r : {&runs, &jobs, &deploys, &incidents}) {
    if (!r->ok()) return r->status();
  }
  e.family("boucle_runs", "gauge", "Runs by project and state.");
  int64_t queued = 0;
  for (const auto& c : *runs) {
    e.sample("boucle_runs", {{"project", c.project}, {"state", c.state}},
             static_cast<double>(c.count));
    if (c.state == "queued") queued += c.count;
  }
  e.family("boucle_queue_depth", "gauge", "Runs waiting for an agent.");
  e.sample("boucle_queue_depth", {}, static_cast<double>(queued));
  e.family("boucle_jobs", "gauge", "Jobs by project and state.");
  for (const auto& c : *jobs) {
    e.sample("boucle_jobs", {{"project", c.project}, {"state", c.state}},
             static_cast<double>(c.count));
  }
  e.family("boucle_deploys", "gauge", "Deploys by project, environment and state.");
  std::set<std::pair<std::string, std::string>> places;
  for (const auto& c : *deploys) {
    e.sample("boucle_deploys", {{"project", c.project}, {"environment", c.env}, {"state", c.state}},
             static_cast<double>(c.count));
    places.emplace(c.project, c.env);
  }
  e.family("boucle_incidents_open", "gauge", "Open incidents by project and environment.");
  for (const auto& c : *incidents) {
    e.sample("boucle_incidents_open", {{"project", c.project}, {"environment", c.env}},
             static_cast<double>(c.count));
  }

  // DORA over the last 30 days, for each environment that has deploys.
  int64_t now = nowMs();
  std::vector<std::tuple<std::string, std::string, insight::DoraReport>> reports;
  for (const auto& [project, env] : places) {
    auto r = insight::doraOf(s, project, env, now - kDoraSpanMs, now);
    if (r.ok()) reports.emplace_back(project, env, std::move(*r));
  }
  auto each = [&](std::string_view name, std::string_view help, auto value) {
    e.family(name, "gauge", help);
    for (const auto& [project, env, r] : reports) {
      std::optional<double> v = value(r);
      if (v) e.sample(name, {{"project", project}, {"environment", env}}, *v);
    }
  };
  each("boucle_dora_deploys_per_day",
       "DORA deployment frequency: successful deploys per day over the last 30 days.",
       [](const insight::DoraReport& r) -> std::optional<double> { return r.perDay; });
  each("boucle_dora_lead_time_seconds",
       "DORA lead time for changes, median from author time to the deploy's end (30 days).",
       [](const insight::DoraReport& r) -> std::optional<double> {
         if (!r.leadMedianMs) return std::nullopt;
         return static_cast<double>(*r.leadMedianMs) / 1000;
       });
  each("boucle_dora_change_failure_rate",
       "DORA change failure rate: the share of deploys that failed (30 days).",
       [](const insight::DoraReport& r) { return r.failureRate; });
  each("boucle_dora_recovery_time_seconds",
       "DORA recovery time, median from a failure to the first healthy state after it (30 days).",
       [](const insight::DoraReport& r) -> std::optional<double> {
         if (!r.recoveryMedianMs) return std::nullopt;
         return static_cast<double>(*r.recoveryMedianMs) / 1000;
       });
  return std::move(e.text());
}

void monitorFigures(const ApiContext& c, Exposition& e) {
  auto statuses = c.watcher ? c.watcher->statuses("") : std::vector<monitor::ProbeStatus>{};
  e.family("boucle_monitor_up", "gauge",
           "1 when the monitor's last verdict passed, 0 when it failed or found no data.");
  for (const auto& s : statuses) {
    if (!s.seen) continue;
    e.sample("boucle_monitor_up",
             {{"project", s.project},
              {"environment", s.env},
              {"monitor", s.monitor},
              {"host", s.host},
              {"release", s.release}},
             s.verdict == monitor::Verdict::kPass ? 1 : 0);
  }
  e.family("boucle_monitor_latency_seconds", "gauge", "The monitor's last probe's duration.");
  for (const auto& s : statuses) {
    if (!s.seen) continue;
    e.sample("boucle_monitor_latency_seconds",
             {{"project", s.project},
              {"environment", s.env},
              {"monitor", s.monitor},
              {"host", s.host},
              {"release", s.release}},
             static_cast<double>(s.latencyMs) / 1000);
  }
  e.family("boucle_monitor_verdicts_total", "counter",
           "The monitor's verdicts since the server started, by verdict.");
  for (const auto& s : statuses) {
    for (auto [verdict, n] : {std::pair{"pass", s.passes}, std::pair{"fail", s.failures},
                              std::pair{"no_data", s.noData}}) {
      e.sample("boucle_monitor_verdicts_total",
               {{"project", s.project},
                {"environment", s.env},
                {"monitor", s.monitor},
                {"host", s.host},
                {"release", s.release},
                {"verdict", verdict}},
               static_cast<double>(n));
    }
  }
}

}  // namespace

void addMetricsRoutes(Router& r, const ApiContext& c) {
  auto cache = std::make_shared<RevisionCache<std::string>>();
  r.add("GET", "/metrics", Access::kMetrics, [&c, cache](const Request&, const Params&) {
    uint64_t revision = c.store->revision();
    // Per minute too: DORA's 30-day window moves even when nothing is written.
    std::string key = "metrics@" + std::to_string(nowMs() / 60'000);
    auto fromStore = cache->get(key, revision);
    if (!fromStore) {
      auto made = storeFigures(*c.store);
      if (!made.ok()) return fromStatus(made.status());
      cache->put(key, revision, *made);
      fromStore = std::move(*made);
    }
    Exposition e;
    e.text() = std::move(*fromStore);
    monitorFigures(c, e);
    if (c.agent) {
      // The agent's own measures, live.
      e.histogram("boucle_job_duration_seconds",
                  "How long jobs took, by project and how they ended (since the server started).",
                  c.agent->metrics().jobDuration);
      e.histogram("boucle_webhook_to_start_seconds",
                  "From a push webhook's arrival to its run's start, by project (since the "
                  "server started).",
                  c.agent->metrics().webhookToStart);
      e.histogram("boucle_agent_queue_seconds",
                  "From a job queued for remote agents to an agent's claim, by project (since "
                  "the server started).",
                  c.agent->metrics().agentQueue);
    }
    if (c.board) {
      e.histogram("boucle_agent_poll_claim_seconds",
                  "From an agent's poll arriving to its answer naming the job it claimed, when a "
                  "job was waiting (since the server started).",
                  c.board->claimLatency);
    }
    Response res;
    res.status = 200;
    res.body = std::move(e.text());
    res.contentType = "text/plain; version=0.0.4; charset=utf-8";
    return res;
  });
}

}  // namespace boucle::api
