#include "runner/planner.h"

namespace boucle::runner {

std::string_view toString(JobState s) {
  switch (s) {
    case JobState::kPending:
      return "pending";
    case JobState::kRunning:
      return "running";
    case JobState::kPassed:
      return "passed";
    case JobState::kFailed:
      return "failed";
    case JobState::kTimedOut:
      return "timed_out";
    case JobState::kCancelled:
      return "cancelled";
    case JobState::kSkipped:
      return "skipped";
  }
  return "pending";
}

bool isFinished(JobState s) {
  return s != JobState::kPending && s != JobState::kRunning;
}

Planner::Planner(const pipeline::Pipeline& p, std::string_view branch) {
  for (const auto& j : p.jobs) {
    order_.push_back(j.name);
    jobs_[j.name].job = &j;
  }
  for (const auto& j : p.jobs) {
    if (!j.runsOn(branch)) {
      auto& e = jobs_[j.name];
      e.state = JobState::kSkipped;
      e.reason = "not run on branch " + std::string(branch) + " (only/except)";
      skipDependents(j.name, "needs " + j.name + ", which does not run on this branch");
    }
  }
}

bool Planner::satisfied(const Entry& e) const {
  for (const auto& n : e.job->needs) {
    const Entry& dep = jobs_.at(n);
    bool ok = dep.state == JobState::kPassed ||
              (dep.job->allowFailure &&
               (dep.state == JobState::kFailed || dep.state == JobState::kTimedOut));
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string> Planner::takeReady(size_t max) {
  std::vector<std::string> out;
  for (const auto& name : order_) {
    if (out.size() >= max) break;
    Entry& e = jobs_.at(name);
    if (e.state == JobState::kPending && satisfied(e)) {
      e.state = JobState::kRunning;
      out.push_back(name);
    }
  }
  return out;
}

void Planner::finish(const std::string& job, JobState end) {
  Entry& e = jobs_.at(job);
  e.state = end;
  bool blocks = end == JobState::kCancelled || end == JobState::kSkipped ||
                ((end == JobState::kFailed || end == JobState::kTimedOut) && !e.job->allowFailure);
  if (blocks) skipDependents(job, "needs " + job + ", which " + std::string(toString(end)));
}

void Planner::skipDependents(const std::string& job, const std::string& why) {
  for (const auto& name : order_) {
    Entry& e = jobs_.at(name);
    if (e.state != JobState::kPending) continue;
    for (const auto& n : e.job->needs) {
      if (n == job) {
        e.state = JobState::kSkipped;
        e.reason = why;
        skipDependents(name, "needs " + name + ", which was skipped");
        break;
      }
    }
  }
}

void Planner::cancelPending() {
  for (auto& [name, e] : jobs_) {
    if (e.state == JobState::kPending) {
      e.state = JobState::kCancelled;
      e.reason = "the run was cancelled before it started";
    }
  }
}

bool Planner::done() const {
  for (const auto& [name, e] : jobs_) {
    if (!isFinished(e.state)) return false;
  }
  return true;
}

size_t Planner::count(JobState s) const {
  size_t n = 0;
  for (const auto& [name, e] : jobs_) n += e.state == s;
  return n;
}

}  // namespace boucle::runner
