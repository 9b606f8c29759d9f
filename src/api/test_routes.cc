// A project's tests: their history over runs, which are flaky, and their quarantines
// (quality/test_book.h); and its performance measurements over releases.
#include <nlohmann/json.hpp>

#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/duration.h"
#include "quality/test_book.h"

namespace boucle::api {

using nlohmann::json;

namespace {

constexpr int64_t kDefaultQuarantineMs = int64_t{14} * 24 * 3600 * 1000;

json quarantineJson(const store::Quarantine& q) {
  return {{"id", q.id},
          {"test", runner::testKey(q.suite, q.name)},
          {"reason", q.reason},
          {"owner", q.owner},
          {"created_at_ms", q.createdAt},
          {"expires_at_ms", q.expiresAt},
          {"clean_runs", q.cleanRuns},
          {"clean_needed", q.cleanNeeded},
          {"state", q.state},
          {"ended_at_ms", optMs(q.endedAt)},
          {"ended_by", q.endedBy},
          {"ended_why", q.endedWhy}};
}

json summaryJson(const quality::TestSummary& s) {
  json cluster = nullptr;
  if (!s.clusterAgent.empty()) cluster = {{"agent", s.clusterAgent}, {"text", s.clusterText}};
  return {{"id", s.test.id},
          {"suite", s.test.suite},
          {"name", s.test.name},
          {"key", s.key},
          {"file", s.test.file},
          {"runs", s.runs},
          {"passed", s.passed},
          {"failed", s.failed},
          {"skipped", s.skipped},
          {"flakes", s.flakes},
          {"last", s.last},
          {"last_run", s.lastRun},
          {"median_ms", static_cast<double>(s.medianMicros) / 1000},
          {"quarantine", s.quarantine ? quarantineJson(*s.quarantine) : json(nullptr)},
          {"cluster", cluster}};
}

// The test a request names: {"test": "suite › name"} in its body.
std::optional<std::string> testNamed(const json& body) {
  if (!body.is_object() || !body.contains("test") || !body["test"].is_string()) return {};
  auto t = body["test"].get<std::string>();
  if (t.empty() || t.size() > 2100) return {};
  return t;
}

}  // namespace

void addTestRoutes(Router& r, const ApiContext& c) {
  // Each measurement (job and name) over the project's releases, oldest first: what was measured
  // on each release's commit (its own run, or a deploy's measuring run), the newest run's.
  r.add("GET", "/api/projects/{name}/benchmarks", Access::kRead,
        [&c](const Request& req, const Params& p) {
          auto project = c.store->getProject(p.at("name"));
          if (!project.ok()) return fromStatus(project.status());
          auto limit = limitOf(req, 50);
          if (!limit || *limit > 200) return errorResponse(400, "limit: from 1 to 200 releases");
          auto releases = c.store->listReleases(project->name, *limit);
          if (!releases.ok()) return fromStatus(releases.status());
          std::vector<std::string> commits;
          for (const auto& rel : *releases) commits.push_back(rel.commit);
          auto measured = c.store->commitBenchmarks(project->name, commits);
          if (!measured.ok()) return fromStatus(measured.status());
          // (job, name) → commit → the newest run's figures (rows come newest run first).
          std::map<std::pair<std::string, std::string>,
                   std::map<std::string, const store::BenchmarkRecord*>>
              series;
          for (const auto& b : *measured) series[{b.job, b.name}].emplace(b.commit, &b);
          json out = json::array();
          for (const auto& [key, byCommit] : series) {
            json points = json::array();
            std::string source;
            for (auto rel = releases->rbegin(); rel != releases->rend(); ++rel) {
              auto it = byCommit.find(rel->commit);
              if (it == byCommit.end()) continue;
              source = it->second->source;
              points.push_back({{"version", rel->version},
                                {"created_at_ms", rel->createdAt},
                                {"run_id", it->second->runId},
                                {"figures", it->second->figures}});
            }
            out.push_back(
                {{"job", key.first}, {"name", key.second}, {"source", source}, {"points", points}});
          }
          return ok(200, {{"project", project->name}, {"series", out}});
        });

  r.add("GET", "/api/projects/{name}/tests", Access::kRead,
        [&c](const Request& req, const Params& p) {
          auto project = c.store->getProject(p.at("name"));
          if (!project.ok()) return fromStatus(project.status());
          bool flaky = req.query.count("flaky") && req.query.at("flaky") != "0";
          auto window = limitOf(req, 200);
          if (!window || *window > 500)
            return errorResponse(400, "limit: from 1 to 500 (the job runs looked at)");
          quality::TestBook book(*c.store);
          auto list = book.summary(project->name, flaky, *window);
          if (!list.ok()) return fromStatus(list.status());
          json tests = json::array();
          for (const auto& s : *list) tests.push_back(summaryJson(s));
          return ok(200, {{"project", project->name}, {"tests", tests}});
        });

  // One test's history: GET …/tests/{id}, or …/tests/history?test=suite › name.
  auto history = [&c](const Request& req, const std::string& name, const std::optional<int64_t>& id,
                      std::string key) {
    auto project = c.store->getProject(name);
    if (!project.ok()) return fromStatus(project.status());
    auto limit = limitOf(req, 200);
    if (!limit || *limit > 500) return errorResponse(400, "limit: from 1 to 500");
    if (id) {
      auto names = c.store->listTestCases(project->name);
      if (!names.ok()) return fromStatus(names.status());
      for (const auto& n : *names)
        if (n.id == *id) key = runner::testKey(n.suite, n.name);
      if (key.empty()) return errorResponse(404, "no test " + std::to_string(*id));
    }
    quality::TestBook book(*c.store);
    auto h = book.history(project->name, key, *limit);
    if (!h.ok()) return fromStatus(h.status());
    json points = json::array();
    for (const auto& pt : h->points) {
      points.push_back({{"run_id", pt.runId},
                        {"job", pt.job},
                        {"attempt", pt.attempt},
                        {"commit", pt.commit},
                        {"branch", pt.branch},
                        {"agent", pt.agent},
                        {"at_ms", pt.at},
                        {"outcome", pt.outcome},
                        {"ms", static_cast<double>(pt.micros) / 1000},
                        {"message", pt.message}});
    }
    json flakes = json::array();
    for (const auto& f : h->flakes) {
      flakes.push_back({{"run_id", f.runId},
                        {"commit", f.commit},
                        {"how", f.how},
                        {"agent", f.agent},
                        {"at_ms", f.at}});
    }
    json quarantines = json::array();
    for (const auto& q : h->quarantines) quarantines.push_back(quarantineJson(q));
    return ok(200, {{"project", project->name},
                    {"test", summaryJson(h->summary)},
                    {"history", points},
                    {"flakes", flakes},
                    {"quarantines", quarantines}});
  };
  r.add("GET", "/api/projects/{name}/tests/history", Access::kRead,
        [history](const Request& req, const Params& p) {
          auto it = req.query.find("test");
          if (it == req.query.end() || it->second.empty() || it->second.size() > 2100)
            return errorResponse(400, "test: the test's name, as \"suite \u203a name\"");
          return history(req, p.at("name"), std::nullopt, it->second);
        });
  r.add("GET", "/api/projects/{name}/tests/{id}", Access::kRead,
        [history](const Request& req, const Params& p) {
          auto id = toId(p.at("id"));
          if (!id) return errorResponse(404, "no test " + p.at("id"));
          return history(req, p.at("name"), id, "");
        });

  r.add("GET", "/api/projects/{name}/quarantines", Access::kRead,
        [&c](const Request& req, const Params& p) {
          auto project = c.store->getProject(p.at("name"));
          if (!project.ok()) return fromStatus(project.status());
          bool all = req.query.count("all") && req.query.at("all") != "0";
          quality::TestBook book(*c.store);
          if (auto ended = book.quarantined(project->name); !ended.ok())
            return fromStatus(ended.status());  // expired ones end first
          auto list = c.store->listQuarantines(project->name, !all);
          if (!list.ok()) return fromStatus(list.status());
          json out = json::array();
          for (const auto& q : *list) out.push_back(quarantineJson(q));
          return ok(200, {{"project", project->name}, {"quarantines", out}});
        });

  r.add("POST", "/api/projects/{name}/quarantines", Access::kChange,
        [&c](const Request& req, const Params& p) {
          auto project = c.store->getProject(p.at("name"));
          if (!project.ok()) return fromStatus(project.status());
          json body = json::parse(req.body, nullptr, false);
          auto test = testNamed(body);
          if (!test)
            return errorResponse(400,
                                 "the body must be {\"test\": \"suite \u203a name\", \"reason\": "
                                 "\"why\", \"until\": \"14d\"}");
          quality::QuarantineAsk ask;
          ask.project = project->name;
          ask.key = *test;
          ask.owner = req.actor;
          if (body.contains("reason") && body["reason"].is_string())
            ask.reason = body["reason"].get<std::string>();
          if (ask.reason.size() > 500) return errorResponse(400, "reason: at most 500 bytes");
          ask.expiresAt = nowMs() + kDefaultQuarantineMs;
          if (body.contains("until")) {
            auto d = body["until"].is_string() ? parseDuration(body["until"].get<std::string>())
                                               : std::nullopt;
            if (!d || d->count() <= 0)
              return errorResponse(400, "until: a duration such as 14d, 2w or 36h");
            ask.expiresAt = nowMs() + d->count();
          }
          if (body.contains("clean_runs")) {
            if (!body["clean_runs"].is_number_integer())
              return errorResponse(400, "clean_runs: a whole number");
            ask.cleanNeeded = body["clean_runs"].get<int>();
          }
          quality::TestBook book(*c.store);
          auto q = book.quarantine(ask);
          if (!q.ok()) return fromStatus(q.status());
          if (auto failed =
                  audited(*c.store, req, "test.quarantine", project->name, *test, ask.reason))
            return *failed;
          return ok(201, quarantineJson(*q));
        });

  r.add("POST", "/api/projects/{name}/quarantines/release", Access::kChange,
        [&c](const Request& req, const Params& p) {
          auto project = c.store->getProject(p.at("name"));
          if (!project.ok()) return fromStatus(project.status());
          auto test = testNamed(json::parse(req.body, nullptr, false));
          if (!test)
            return errorResponse(400, "the body must be {\"test\": \"suite \u203a name\"}");
          quality::TestBook book(*c.store);
          auto q = book.release(project->name, *test, req.actor);
          if (!q.ok()) return fromStatus(q.status());
          if (auto failed = audited(*c.store, req, "test.release", project->name, *test, ""))
            return *failed;
          return ok(200, quarantineJson(*q));
        });
}

}  // namespace boucle::api
