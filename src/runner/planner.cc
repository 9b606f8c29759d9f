#include "runner/planner.h"

#include <algorithm>

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
    index_[j.name] = entries_.size();
    entries_.push_back({&j, JobState::kPending, ""});
    order_.push_back(j.name);
  }
  unfinished_ = entries_.size();
  for (const auto& j : p.jobs) {
    if (!j.buildsOn(branch)) {
      auto& e = at(j.name);
      setState(e, JobState::kSkipped);
      e.reason = "not run on branch " + std::string(branch) + " (only/except)";
      skipDependents(j.name, "needs " + j.name + ", which does not run on this branch");
    }
  }
}

void Planner::setState(Entry& e, JobState s) {
  if (!isFinished(e.state) && isFinished(s)) --unfinished_;
  e.state = s;
}

bool Planner::satisfied(const Entry& e) const {
  for (const auto& n : e.job->needs) {
    const Entry& dep = at(n);
    bool ok = dep.state == JobState::kPassed ||
              (dep.job->allowFailure &&
               (dep.state == JobState::kFailed || dep.state == JobState::kTimedOut));
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string> Planner::takeReady(
    size_t max, const std::function<bool(const pipeline::Job&)>& elsewhere) {
  while (firstPending_ < entries_.size() && entries_[firstPending_].state != JobState::kPending) {
    ++firstPending_;
  }
  std::vector<std::string> out;
  size_t slots = 0;
  for (size_t i = firstPending_; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (e.state != JobState::kPending || !satisfied(e)) continue;
    bool free = elsewhere && elsewhere(*e.job);
    if (!free && slots >= max) {
      if (!elsewhere) break;
      continue;
    }
    if (!free) ++slots;
    setState(e, JobState::kRunning);
    out.push_back(order_[i]);
  }
  return out;
}

std::vector<std::string> Planner::upcoming(size_t max) const {
  // A look a little ahead is enough (it is asked after every event of a run): no full scan.
  constexpr size_t kWindow = 64;
  std::vector<std::string> out;
  size_t end = std::min(entries_.size(), firstPending_ + kWindow);
  for (size_t i = firstPending_; i < end && out.size() < max; ++i) {
    const Entry& e = entries_[i];
    if (e.state != JobState::kPending) continue;
    bool soon = true;
    for (const auto& n : e.job->needs) {
      const Entry& dep = at(n);
      soon = soon && (dep.state == JobState::kRunning || dep.state == JobState::kPassed ||
                      (dep.job->allowFailure && isFinished(dep.state) &&
                       dep.state != JobState::kSkipped && dep.state != JobState::kCancelled));
    }
    if (soon) out.push_back(order_[i]);
  }
  return out;
}

void Planner::finish(const std::string& job, JobState end) {
  Entry& e = at(job);
  setState(e, end);
  bool blocks = end == JobState::kCancelled || end == JobState::kSkipped ||
                ((end == JobState::kFailed || end == JobState::kTimedOut) && !e.job->allowFailure);
  if (blocks) skipDependents(job, "needs " + job + ", which " + std::string(toString(end)));
}

void Planner::restore(const std::string& job, JobState s) {
  Entry& e = at(job);
  if (e.state != JobState::kPending || s == JobState::kPending) return;
  setState(e, JobState::kRunning);
  if (s != JobState::kRunning) finish(job, s);
}

void Planner::skipDependents(const std::string& job, const std::string& why) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (e.state != JobState::kPending) continue;
    for (const auto& n : e.job->needs) {
      if (n == job) {
        setState(e, JobState::kSkipped);
        e.reason = why;
        skipDependents(order_[i], "needs " + order_[i] + ", which was skipped");
        break;
      }
    }
  }
}

void Planner::cancelPending() {
  for (auto& e : entries_) {
    if (e.state == JobState::kPending) {
      setState(e, JobState::kCancelled);
      e.reason = "the run was cancelled before it started";
    }
  }
}

size_t Planner::count(JobState s) const {
  size_t n = 0;
  for (const auto& e : entries_) n += e.state == s;
  return n;
}

}  // namespace boucle::runner
