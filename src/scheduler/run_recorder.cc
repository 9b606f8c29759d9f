#include "scheduler/run_recorder.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/bell.h"
#include "core/clock.h"
#include "core/log.h"

namespace boucle::scheduler {

namespace {}  // namespace

void RunRecorder::save(const store::JobRecord& j) {
  if (auto st = store_.saveJob(j); !st.ok()) {
    logError("run " + std::to_string(runId_) + ": cannot record job " + j.name + ": " +
             st.message());
  }
}

void RunRecorder::end(const runner::RunResult& result) {
  for (const auto& r : result.jobs) {
    if (r.attempts == 0) {
      save({runId_, r.name, std::string(runner::toString(r.state)), -1, 0, std::nullopt,
            std::nullopt, r.reason, "", ""});
      logBell().ring(logBellKey(runId_, r.name), true);
    }
  }
}

void RunRecorder::jobOutput(const std::string& job, std::string_view) {
  logBell().ring(logBellKey(runId_, job));
}

void RunRecorder::begin(const pipeline::Pipeline& p) {
  for (const auto& j : p.jobs) {
    save({runId_, j.name, "pending", -1, 0, std::nullopt, std::nullopt, "", "", ""});
  }
}

void RunRecorder::jobStarted(const std::string& job, int attempt) {
  save({runId_, job, "running", -1, attempt, nowMs(), std::nullopt, "", "", ""});
}

void RunRecorder::jobFinished(const runner::JobResult& r) {
  store::JobRecord j{runId_,     r.name,     std::string(runner::toString(r.state)),
                     r.exitCode, r.attempts, std::nullopt,
                     nowMs(),    r.reason,   "",
                     ""};
  j.startedAt = *j.finishedAt - r.duration.count();
  if (metrics_ && r.attempts > 0) {
    metrics_->jobDuration.observe({project_, j.state},
                                  static_cast<double>(r.duration.count()) / 1000);
  }
  if (r.tests) {
    nlohmann::json t = {{"tests", r.tests->tests},
                        {"passed", r.tests->passed()},
                        {"failures", r.tests->failures},
                        {"errors", r.tests->errors},
                        {"skipped", r.tests->skipped}};
    nlohmann::json failed = nlohmann::json::array();
    for (const auto& f : r.tests->failed) {
      failed.push_back(
          {{"suite", f.suite}, {"name", f.name}, {"message", f.message}, {"location", f.location}});
    }
    t["failed"] = failed;
    j.testsJson = t.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (!r.artifacts.empty()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& e : r.artifacts) {
      a.push_back({{"path", e.path}, {"sha256", e.sha256}, {"size", e.size}});
    }
    j.artifactsJson = a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  save(j);
  logBell().ring(logBellKey(runId_, r.name), true);  // recorded first: followers ask the store
}

}  // namespace boucle::scheduler
