#pragma once
// Deciding what may run next: pure logic over the job graph, no I/O, so every rule is tested
// with plain values. The engine asks for ready jobs and reports how each one ended.

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/pipeline.h"

namespace boucle::runner {

enum class JobState { kPending, kRunning, kPassed, kFailed, kTimedOut, kCancelled, kSkipped };

std::string_view toString(JobState s);
bool isFinished(JobState s);

class Planner {
 public:
  // Jobs excluded by only/except for `branch` start out skipped, and so do jobs needing them.
  Planner(const pipeline::Pipeline& p, std::string_view branch);

  // Up to `max` pending jobs whose needs have all passed, in file order; they become running.
  // Jobs `elsewhere` says run elsewhere (on remote agents) are taken too but use no slot.
  std::vector<std::string> takeReady(
      size_t max, const std::function<bool(const pipeline::Job&)>& elsewhere = {});
  // Up to `max` pending jobs that will be ready as soon as the jobs now running pass (none of
  // their needs failed or waits on a job not yet started), in file order, among the next 64 not
  // started; nothing changes.
  std::vector<std::string> upcoming(size_t max) const;
  // Records how a running job ended; jobs needing a failed job become skipped.
  void finish(const std::string& job, JobState end);
  // A run carried on after a restart: a pending job is put where it had come to (running, or
  // finished with its jobs' dependents skipped as finish() would).
  void restore(const std::string& job, JobState s);
  // Marks every job that has not started as cancelled.
  void cancelPending();

  bool done() const { return unfinished_ == 0; }
  size_t count(JobState s) const;
  JobState state(const std::string& job) const { return at(job).state; }
  const std::string& reason(const std::string& job) const { return at(job).reason; }
  const std::vector<std::string>& order() const { return order_; }

 private:
  struct Entry {
    const pipeline::Job* job = nullptr;
    JobState state = JobState::kPending;
    std::string reason;
  };
  Entry& at(std::string_view job) { return entries_[index_.find(job)->second]; }
  const Entry& at(std::string_view job) const { return entries_[index_.find(job)->second]; }
  void setState(Entry& e, JobState s);
  void skipDependents(const std::string& job, const std::string& why);
  bool satisfied(const Entry& e) const;

  // In file order. Runs of a thousand jobs ask for ready jobs after each one ends, so the scan
  // starts at the first job not yet started and done() is a counter.
  std::vector<Entry> entries_;
  std::map<std::string, size_t, std::less<>> index_;
  std::vector<std::string> order_;
  size_t firstPending_ = 0;
  size_t unfinished_ = 0;
};

}  // namespace boucle::runner
