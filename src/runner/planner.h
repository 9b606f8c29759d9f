#pragma once
// Deciding what may run next: pure logic over the job graph, no I/O, so every rule is tested
// with plain values. The engine asks for ready jobs and reports how each one ended.

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
  std::vector<std::string> takeReady(size_t max);
  // Records how a running job ended; jobs needing a failed job become skipped.
  void finish(const std::string& job, JobState end);
  // Marks every job that has not started as cancelled.
  void cancelPending();

  bool done() const;
  size_t count(JobState s) const;
  JobState state(const std::string& job) const { return jobs_.at(job).state; }
  const std::string& reason(const std::string& job) const { return jobs_.at(job).reason; }
  const std::vector<std::string>& order() const { return order_; }

 private:
  struct Entry {
    const pipeline::Job* job = nullptr;
    JobState state = JobState::kPending;
    std::string reason;
  };
  void skipDependents(const std::string& job, const std::string& why);
  bool satisfied(const Entry& e) const;

  std::map<std::string, Entry, std::less<>> jobs_;
  std::vector<std::string> order_;
};

}  // namespace boucle::runner
