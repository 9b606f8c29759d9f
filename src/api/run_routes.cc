// Runs: listed, shown with their jobs, logs followed, cancelled, repeated; their artifacts and
// notifications.
#include "api/log_stream.h"
#include "api/response_cache.h"
#include "api/route_helpers.h"
#include "core/bell.h"
#include "core/names.h"
#include "pipeline/parser.h"
#include "runner/job_launch.h"
#include "scheduler/agent.h"
#include "scm/git_repo.h"

namespace boucle::api {

using nlohmann::json;

namespace {

json culpritJson(const store::Run& r) {
  if (r.culpritCommit.empty()) return nullptr;
  return {{"commit", r.culpritCommit}, {"author", r.culpritAuthor}, {"subject", r.culpritSubject}};
}

json requestJson(const store::RequestOf& pr) {
  if (pr.number == 0) return nullptr;
  return {{"number", pr.number}, {"title", pr.title},   {"author", pr.author},
          {"source", pr.source}, {"target", pr.target}, {"head", pr.head},
          {"fork", pr.fork},     {"merge", pr.merge},   {"base", pr.base}};
}

}  // namespace

// Who broke the branch: the first failing run of the streak, with its commit and author, or
// the commit bisection found among those that run built.
json runJson(const store::Run& r, store::Store* store, RunCache* cache) {
  json j = {{"id", r.id},
            {"project", r.project},
            {"number", r.number},
            {"ref", r.ref},
            {"branch", r.branch},
            {"commit", r.commit},
            {"author", r.author},
            {"subject", r.subject},
            {"trigger", r.trigger},
            {"state", store::toString(r.state)},
            {"reason", r.reason},
            {"queued_at_ms", r.queuedAt},
            {"started_at_ms", optMs(r.startedAt)},
            {"finished_at_ms", optMs(r.finishedAt)},
            {"event", r.event},
            {"only_jobs", r.onlyJobs},
            {"rerun_of", r.rerunOf ? json(*r.rerunOf) : json(nullptr)},
            {"bisect_of", r.bisectOf ? json(*r.bisectOf) : json(nullptr)},
            {"suspects", r.suspects},
            {"bisection", r.bisectState},
            {"culprit", culpritJson(r)},
            {"pull_request", requestJson(r.pr)},
            {"qualifier", r.qualifier}};
  // Who broke it: the first failing run of the streak, with its commit and author, or the
  // commit bisection found among those that run built.
  j["broken_since"] = nullptr;
  if (r.brokenSince && store) {
    std::optional<store::Run> first;
    if (r.brokenSince == r.id) {
      first = r;
    } else if (cache && cache->count(*r.brokenSince)) {
      first = (*cache)[*r.brokenSince];
    } else {
      auto got = store->getRun(*r.brokenSince);
      if (got.ok()) first = *got;
      if (cache) (*cache)[*r.brokenSince] = first;
    }
    if (first) {
      bool bisected = !first->culpritCommit.empty();
      j["broken_since"] = {{"run", first->id},
                           {"number", first->number},
                           {"commit", bisected ? first->culpritCommit : first->commit},
                           {"author", bisected ? first->culpritAuthor : first->author},
                           {"subject", bisected ? first->culpritSubject : first->subject},
                           {"run_commit", first->commit},
                           {"suspects", first->suspects},
                           {"bisection", first->bisectState},
                           {"finished_at_ms", optMs(first->finishedAt)}};
    }
  }
  return j;
}

namespace {

json jobJson(const store::JobRecord& j) {
  json out = {{"name", j.name},
              {"state", j.state},
              {"exit_code", j.exitCode},
              {"attempts", j.attempts},
              {"started_at_ms", optMs(j.startedAt)},
              {"finished_at_ms", optMs(j.finishedAt)},
              {"reason", j.reason},
              {"qualifier", j.qualifier}};
  if (!j.testsJson.empty()) out["tests"] = json::parse(j.testsJson, nullptr, false);
  if (!j.artifactsJson.empty()) out["artifacts"] = json::parse(j.artifactsJson, nullptr, false);
  return out;
}

// Each job's `needs`, from the pipeline file at the run's commit (the job graph a page
// draws), read once per commit: a run page polls while the run goes on.
class NeedsCache {
 public:
  std::map<std::string, std::vector<std::string>> get(const ApiContext& c, const store::Run& r) {
    std::string key = r.project + "@" + r.commit;
    {
      std::lock_guard lock(mu_);
      if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    }
    std::map<std::string, std::vector<std::string>> needs;
    auto text =
        scm::fileAtCommit(scheduler::mirrorPath(c.shared(), r.project), r.commit, ".boucle.yml");
    if (text.ok()) {
      auto parsed = pipeline::parsePipeline(*text);
      for (const auto& job : parsed.pipeline.jobs) needs[job.name] = job.needs;
    }
    std::lock_guard lock(mu_);
    if (cache_.size() > 256) cache_.clear();
    cache_[key] = needs;
    return needs;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::map<std::string, std::vector<std::string>>> cache_;
};

Response getRun(const ApiContext& c, NeedsCache& needsCache, int64_t id) {
  auto run = c.store->getRun(id);
  if (!run.ok()) return fromStatus(run.status());
  auto jobs = c.store->listJobs(id);
  if (!jobs.ok()) return fromStatus(jobs.status());
  json j = runJson(*run, c.store);
  j["jobs"] = json::array();
  auto needs = jobs->empty() ? decltype(needsCache.get(c, *run)){} : needsCache.get(c, *run);
  auto measured = c.store->runBenchmarks(id);
  if (!measured.ok()) return fromStatus(measured.status());
  std::map<std::string, json> benchmarks;
  for (const auto& b : *measured) {
    benchmarks[b.job].push_back({{"name", b.name},
                                 {"source", b.source},
                                 {"figures", b.figures},
                                 {"samples", b.samples.size()}});
  }
  for (const auto& job : *jobs) {
    json out = jobJson(job);
    out["needs"] = needs[job.name];
    if (benchmarks.contains(job.name)) out["benchmarks"] = benchmarks[job.name];
    j["jobs"].push_back(std::move(out));
  }
  if (!run->perfEnv.empty()) j["perf_env"] = run->perfEnv;
  if (!run->perfAb.empty()) j["perf_interleaved"] = run->perfAb;
  return ok(200, j);
}

Response listRuns(const ApiContext& c, const Request& req) {
  auto limit = limitOf(req, 50);
  if (!limit) return errorResponse(400, "limit: 1 to 1000");
  int64_t before = 0;
  if (auto it = req.query.find("before"); it != req.query.end()) {
    auto v = toId(it->second);
    if (!v) return errorResponse(400, "before: a run id");
    before = *v;
  }
  std::string project = req.query.count("project") ? req.query.at("project") : "";
  auto runs = c.store->listRuns(project, *limit, before);
  if (!runs.ok()) return fromStatus(runs.status());
  json list = json::array();
  RunCache cache;
  for (const auto& r : *runs) list.push_back(runJson(r, c.store, &cache));
  return ok(200, {{"runs", list}});
}

Response jobLog(const ApiContext& c, const Request& req, int64_t id, const std::string& job) {
  if (!validName(job)) return errorResponse(400, "not a job name");
  auto run = c.store->getRun(id);
  if (!run.ok()) return fromStatus(run.status());
  auto jobs = c.store->listJobs(id);
  if (!jobs.ok()) return fromStatus(jobs.status());
  bool known = false;
  int attempts = 1;
  for (const auto& j : *jobs) {
    if (j.name != job) continue;
    known = true;
    attempts = std::max(1, j.attempts);
  }
  bool follow = req.query.count("follow") && req.query.at("follow") != "0";
  // A followed job of a run that has not started yet is waited for: its jobs are recorded when
  // the pipeline file has been read.
  if (!known && (!follow || store::isFinished(run->state))) {
    return errorResponse(404, "run " + std::to_string(id) + " has no job " + job);
  }
  uint64_t offset = 0;
  if (auto it = req.query.find("offset"); it != req.query.end()) {
    try {
      offset = std::stoull(it->second);
    } catch (...) {
      return errorResponse(400, "offset: a byte offset");
    }
  }
  // A retried job has a log per attempt: the latest unless one is asked for.
  int attempt = attempts;
  if (auto it = req.query.find("attempt"); it != req.query.end()) {
    auto n = toId(it->second);
    if (!n) return errorResponse(400, "attempt: a number from 1");
    if (*n > attempts) {
      return errorResponse(404, "job " + job + " of run " + std::to_string(id) + " has " +
                                    std::to_string(attempts) + " attempt(s)");
    }
    attempt = static_cast<int>(*n);
  }
  // The log of a run another server runs grows in the shared folder, with no bell here to
  // say so: it is looked at every 100 ms instead.
  std::vector<std::string> bells;
  if (!follow || !c.severalServers || store::isFinished(run->state) || c.agent->runsHere(id))
    bells = {logBellKey(id, job), logBellKey(id, "")};
  Response r;
  r.contentType = "text/plain; charset=utf-8";
  r.stream = makeLogStream(
      c.agent->runDir(id) / "logs" / runner::detail::logFileName(job, attempt), offset, follow,
      [store = c.store, id, job] {
        auto all = store->listJobs(id);
        if (!all.ok()) return true;  // cannot tell: stop following
        for (const auto& j : *all) {
          if (j.name == job) return j.state != "running" && j.state != "pending";
        }
        auto r = store->getRun(id);  // not recorded (yet)
        return !r.ok() || store::isFinished(r->state);
      },
      std::move(bells));
  return r;
}

// A new run of the same commit: the whole pipeline (re-run) or one job and what it needs
// (retry).
Response repeatRun(const ApiContext& c, int64_t id, const std::string& job) {
  auto old = c.store->getRun(id);
  if (!old.ok()) return fromStatus(old.status());
  if (!store::isFinished(old->state))
    return errorResponse(409, "run " + std::to_string(id) + " has not finished");
  store::Run r = store::runAgain(*old, job.empty() ? "rerun" : "retry");
  if (!job.empty()) {
    if (!validName(job)) return errorResponse(400, "not a job name");
    auto jobs = c.store->listJobs(id);
    if (!jobs.ok()) return fromStatus(jobs.status());
    bool known = false;
    for (const auto& j : *jobs) known = known || j.name == job;
    if (!known) return errorResponse(404, "run " + std::to_string(id) + " has no job " + job);
    r.onlyJobs = {job};
  }
  auto run = c.store->createRun(r);
  if (!run.ok()) return fromStatus(run.status());
  c.agent->wake();
  return ok(201, runJson(*run, c.store));
}

}  // namespace

void addRunRoutes(Router& r, const ApiContext& c) {
  auto cache = std::make_shared<ResponseCache>();
  r.add("GET", "/api/runs", Access::kRead, [&c, cache](const Request& req, const Params&) {
    std::string key = "runs";
    for (const auto& [k, v] : req.query) key += "\n" + k + "=" + v;  // a std::map: sorted
    return cached(*cache, *c.store, key, [&] { return listRuns(c, req); });
  });
  auto needs = std::make_shared<NeedsCache>();
  r.add("GET", "/api/runs/{id}", Access::kRead, [&c, needs](const Request&, const Params& p) {
    auto id = toId(p.at("id"));
    return id ? getRun(c, *needs, *id) : errorResponse(400, "not a run id");
  });
  r.add("POST", "/api/runs/{id}/cancel", Access::kChange, [&c](const Request&, const Params& p) {
    auto id = toId(p.at("id"));
    if (!id) return errorResponse(400, "not a run id");
    if (auto st = c.agent->cancel(*id); !st.ok()) return fromStatus(st);
    return ok(202, {{"cancelling", *id}});
  });
  r.add("POST", "/api/runs/{id}/rerun", Access::kChange, [&c](const Request&, const Params& p) {
    auto id = toId(p.at("id"));
    return id ? repeatRun(c, *id, "") : errorResponse(400, "not a run id");
  });
  r.add("POST", "/api/runs/{id}/jobs/{job}/retry", Access::kChange,
        [&c](const Request&, const Params& p) {
          auto id = toId(p.at("id"));
          return id ? repeatRun(c, *id, p.at("job")) : errorResponse(400, "not a run id");
        });
  r.add("GET", "/api/runs/{id}/artifacts", Access::kRead, [&c](const Request&, const Params& p) {
    auto id = toId(p.at("id"));
    if (!id) return errorResponse(400, "not a run id");
    if (auto run = c.store->getRun(*id); !run.ok()) return fromStatus(run.status());
    auto jobs = c.store->listJobs(*id);
    if (!jobs.ok()) return fromStatus(jobs.status());
    json out = json::array();
    for (const auto& j : *jobs) {
      if (j.artifactsJson.empty()) continue;
      for (auto a : json::parse(j.artifactsJson, nullptr, false)) {
        a["job"] = j.name;
        out.push_back(a);
      }
    }
    return ok(200, {{"artifacts", out}});
  });
  r.add("GET", "/api/runs/{id}/notifications", Access::kRead,
        [&c](const Request&, const Params& p) {
          auto id = toId(p.at("id"));
          if (!id) return errorResponse(400, "not a run id");
          auto list = c.store->listDeliveries(*id);
          if (!list.ok()) return fromStatus(list.status());
          json out = json::array();
          for (const auto& d : *list) {
            out.push_back({{"id", d.id},
                           {"event", d.event},
                           {"channel", d.channel},
                           {"target", d.target},
                           {"state", d.state},
                           {"attempts", d.attempts},
                           {"last_error", d.lastError},
                           {"sent_at_ms", optMs(d.sentAt)}});
          }
          return ok(200, {{"notifications", out}});
        });
  r.add("GET", "/api/runs/{id}/jobs/{job}/log", Access::kRead,
        [&c](const Request& req, const Params& p) {
          auto id = toId(p.at("id"));
          return id ? jobLog(c, req, *id, p.at("job")) : errorResponse(400, "not a run id");
        });
}

}  // namespace boucle::api
