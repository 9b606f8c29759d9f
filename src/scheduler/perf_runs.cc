#include "scheduler/perf_runs.h"

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/clock.h"

namespace boucle::scheduler {

namespace {

// The environment's deploys wait for the run: one that never starts (no agent for its labels,
// its branch busy) or never ends is given up on after this long, and cancelled.
constexpr int64_t kMaxWaitMs = int64_t{2} * 3600 * 1000;

std::optional<Result<deploy::PerfRunResult>> measure(store::Store& store,
                                                     const std::function<void()>& wake,
                                                     const deploy::PerfAsk& ask,
                                                     const std::function<bool()>& stopping) {
  using Out = Result<deploy::PerfRunResult>;
  const store::Release& release = *ask.release;
  const std::string& env = ask.env;
  store::Run r;
  r.project = release.project;
  r.ref = release.commit;
  r.branch = release.branch;
  r.commit = release.commit;
  r.trigger = "perf";
  r.subject = "performance of " + release.version + " in " + env;
  r.onlyJobs = {ask.job};
  r.perfEnv = env;
  if (ask.baseline && ask.rounds > 0) {
    r.subject = "performance of " + ask.baseline->version + " and " + release.version +
                " in turns, " + std::to_string(ask.rounds) + " rounds each";
    r.perfAb = std::to_string(ask.rounds) + " " + ask.baseline->version + " " + release.version +
               (ask.values ? "" : " novalues");
  }
  r.queuedAt = nowMs();
  auto made = store.createRun(r);
  if (!made.ok()) return Out(made.status());
  if (wake) wake();
  int64_t deadline = nowMs() + kMaxWaitMs;
  while (true) {
    auto now = store.getRun(made->id);
    if (!now.ok()) return Out(now.status());
    // A stopping server cancels its runs first: that is no verdict on the release.
    if (stopping()) return std::nullopt;
    if (store::isFinished(now->state)) {
      deploy::PerfRunResult out;
      out.runId = now->id;
      out.state = now->state;
      out.reason = now->reason;
      auto measured = store.runBenchmarks(now->id);
      if (!measured.ok()) return Out(measured.status());
      out.measurements = std::move(measured).value();
      return Out(std::move(out));
    }
    if (nowMs() > deadline) {
      // Asked to stop like a cancel from a person: its agents hear of it.
      now->state = store::RunState::kCancelled;
      now->reason = "the performance check gave up waiting for it after 2 hours";
      now->finishedAt = nowMs();
      (void)store.updateRun(*now);
      return Out(Status::Cancelled("measuring run " + std::to_string(now->id) +
                                   " did not end within 2 hours"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

deploy::PerfRunner perfRunner(store::Store& store, std::function<void()> wake) {
  return [&store, wake](const deploy::PerfAsk& ask, const std::function<bool()>& stopping) {
    return measure(store, wake, ask, stopping);
  };
}

bool givenEnvValues(const store::Run& run) {
  return !run.perfEnv.empty() && !run.perfAb.ends_with(" novalues");
}

Status interleaveRounds(store::Store& store, const store::Run& run, pipeline::Pipeline& p,
                        std::map<std::string, std::vector<runner::ArtifactEntry>>& inputs) {
  std::istringstream in(run.perfAb);
  int rounds = 0;
  std::string versions[2];
  in >> rounds >> versions[0] >> versions[1];
  if (!in || rounds < 1 || rounds > 20 || run.onlyJobs.size() != 1)
    return Status::Invalid("not an interleaved measuring run: '" + run.perfAb + "'");
  const pipeline::Job* job = p.findJob(run.onlyJobs[0]);
  if (!job) return Status::NotFound("no job '" + run.onlyJobs[0] + "' to measure with");
  if (!job->runsOn.empty())
    return Status::Invalid("job " + job->name +
                           " has runs-on: interleaved rounds run on the server's own agent");
  std::vector<runner::ArtifactEntry> given[2];
  for (int side = 0; side < 2; ++side) {
    auto release = store.getRelease(run.project, versions[side]);
    if (!release.ok()) return release.status();
    auto list = nlohmann::json::parse(release->artifactsJson, nullptr, false);
    if (!list.is_array()) return Status::Invalid(versions[side] + "'s artifacts are unreadable");
    for (const auto& a : list) {
      if (!a.is_object() || !a.contains("name") || !a["name"].is_string() ||
          !a.contains("sha256") || !a["sha256"].is_string())
        continue;
      std::string name = std::filesystem::path(a["name"].get<std::string>()).filename().string();
      if (name.empty() || name == "." || name == "..") continue;
      uint64_t size =
          a.contains("size") && a["size"].is_number_unsigned() ? a["size"].get<uint64_t>() : 0;
      // Executable: a release's artifact is often the program to time.
      given[side].push_back({"perf-release/" + name, a["sha256"].get<std::string>(), size, 0755});
    }
  }
  pipeline::Job base = *job;
  base.needs.clear();
  base.needsPos.clear();
  base.retry = 0;  // a round tried again would time one side twice
  std::vector<pipeline::Job> jobs;
  for (int round = 1; round <= rounds; ++round) {
    for (int side = 0; side < 2; ++side) {
      pipeline::Job r = base;
      r.name = deploy::roundJob(job->name, side ? 'B' : 'A', round);
      r.env.emplace_back("BOUCLE_PERF_SIDE", side ? "candidate" : "baseline");
      r.env.emplace_back("BOUCLE_PERF_ROUND", std::to_string(round));
      r.env.emplace_back("BOUCLE_PERF_VERSION", versions[side]);
      r.env.emplace_back("BOUCLE_PERF_RELEASE_DIR", "perf-release");
      if (!jobs.empty()) {
        r.needs = {jobs.back().name};
        r.needsPos = {pipeline::SourcePos{}};
      }
      inputs[r.name] = given[side];
      jobs.push_back(std::move(r));
    }
  }
  p.jobs = std::move(jobs);
  return Status::Ok();
}

}  // namespace boucle::scheduler
