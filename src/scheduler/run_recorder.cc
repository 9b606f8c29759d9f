#include "scheduler/run_recorder.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/bell.h"
#include "core/clock.h"
#include "core/log.h"

namespace boucle::scheduler {

namespace {

// The names a job's record lists, as many as its failures are (a report may name thousands).
template <class Names>
std::vector<std::string> capped(const Names& names) {
  std::vector<std::string> out;
  for (const auto& n : names) {
    if (out.size() >= runner::kMaxFailures) break;
    out.push_back(n);
  }
  return out;
}

}  // namespace

std::string RunRecorder::qualifier() const {
  if (flakyJob_ && quarantined_) return "flaky,quarantined";
  if (flakyJob_) return "flaky";
  if (quarantined_) return "quarantined";
  return "";
}

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
            std::nullopt, r.reason, "", "", ""});
      logBell().ring(logBellKey(runId_, r.name), true);
    }
  }
}

void RunRecorder::jobOutput(const std::string& job, std::string_view) {
  logBell().ring(logBellKey(runId_, job));
}

void RunRecorder::begin(const pipeline::Pipeline& p) {
  for (const auto& j : p.jobs) {
    save({runId_, j.name, "pending", -1, 0, std::nullopt, std::nullopt, "", "", "", ""});
  }
}

void RunRecorder::jobStarted(const std::string& job, int attempt) {
  save({runId_, job, "running", -1, attempt, nowMs(), std::nullopt, "", "", "", ""});
}

void RunRecorder::jobFinished(const runner::JobResult& r) {
  store::JobRecord j{runId_,     r.name,     std::string(runner::toString(r.state)),
                     r.exitCode, r.attempts, std::nullopt,
                     nowMs(),    r.reason,   "",
                     "",         ""};
  j.startedAt = *j.finishedAt - r.duration.count();
  if (metrics_ && r.attempts > 0) {
    metrics_->jobDuration.observe({project_, j.state},
                                  static_cast<double>(r.duration.count()) / 1000);
  }
  if (!r.benchmarks.empty()) {
    std::vector<store::BenchmarkRecord> records;
    // Samples are kept up to a budget per job (a report may hold a million): past it, figures.
    size_t samplesLeft = 20000;
    for (const auto& m : r.benchmarks) {
      records.push_back({runId_, project_, r.name, m.name, run_.commit, m.source, m.figures, {}});
      if (m.samples.size() <= samplesLeft && !run_.isRequest()) {
        records.back().samples = m.samples;
        samplesLeft -= m.samples.size();
      }
    }
    if (auto st = store_.addBenchmarks(records); !st.ok()) {
      logError("run " + std::to_string(runId_) + ": cannot keep the measurements of job " + r.name +
               ": " + st.message());
    }
  }
  std::set<std::string> flaky(r.flakyTests.begin(), r.flakyTests.end());
  if (book_ && (r.tests || !r.retried.empty())) {
    auto recorded = book_->record(run_, r);
    if (!recorded.ok()) {
      logError("run " + std::to_string(runId_) + ": cannot keep the tests of job " + r.name + ": " +
               recorded.status().message());
    } else if (r.state == runner::JobState::kPassed) {
      flaky.insert(recorded->flaky.begin(), recorded->flaky.end());
    }
  }
  bool passed = r.state == runner::JobState::kPassed;
  std::vector<std::string> kinds;
  if (passed && (r.flaky || !flaky.empty())) kinds.push_back("flaky");
  if (passed && !r.quarantinedFailures.empty()) kinds.push_back("quarantined");
  for (const auto& k : kinds) j.qualifier += (j.qualifier.empty() ? "" : ",") + k;
  if (passed) {
    flakyJob_ = flakyJob_ || !flaky.empty() || r.flaky;
    quarantined_ = quarantined_ || !r.quarantinedFailures.empty();
    flaky_.insert(flaky.begin(), flaky.end());
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
    if (passed && !flaky.empty()) t["flaky"] = capped(flaky);
    if (passed && !r.quarantinedFailures.empty()) t["quarantined"] = capped(r.quarantinedFailures);
    j.testsJson = t.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (!r.retried.empty()) {
    // What the attempts before the last said: the run page shows why it was tried again.
    nlohmann::json t = j.testsJson.empty() ? nlohmann::json::object()
                                           : nlohmann::json::parse(j.testsJson, nullptr, false);
    nlohmann::json earlier = nlohmann::json::array();
    for (const auto& a : r.retried) {
      nlohmann::json e = {{"attempt", a.attempt}, {"reason", a.reason}, {"agent", a.agent}};
      if (a.tests) e["failed"] = capped(runner::failingTests(*a.tests));
      earlier.push_back(e);
    }
    t["retried"] = earlier;
    if (passed && !flaky.empty()) t["flaky"] = capped(flaky);
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
