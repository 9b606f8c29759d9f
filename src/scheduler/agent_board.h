#pragma once
// What a server's threads tell each other about remote agents' jobs. An agent's long poll waits
// here for a job to be queued, and a run's engine for news of its jobs (a log chunk or an end
// that reached this server). Servers sharing a database pass their news on to each other
// (setRelay, heard); what waits here also looks at the store every few seconds, in case a
// piece of news was lost on the way.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/histogram.h"

namespace boucle::scheduler {

class AgentBoard {
 public:
  // A job was queued: every waiting long poll looks again.
  void jobQueued();
  // A run's jobs were asked to stop: every long poll ends now, so that each agent calls again
  // at once and hears which of its jobs to stop.
  void jobsCancelled();
  uint64_t cancellations() const { return cancellations_; }
  // Calls `wake` once, at the next jobQueued(), unless forgotten first; returns its key.
  uint64_t onJobQueued(std::function<void()> wake);
  void forget(uint64_t key);

  // Seconds from an agent's poll arriving to its answer naming a job it claimed (a poll that
  // had to wait for a job to be queued is not counted: that is the queue's time, not the
  // server's), for /metrics.
  HistogramFamily claimLatency{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}, {}};

  // The engine of run `runId` listens on the read end of a pipe whose write end it gives here.
  void listen(int64_t runId, int writeFd);
  void unlisten(int64_t runId);
  // News of one of the run's jobs arrived.
  void runChanged(int64_t runId);

  // Where this board's news goes for the other servers, as one line ("queued", "cancelled",
  // "run ID"); news of a run this server's engine follows stays here.
  void setRelay(std::function<void(std::string)> relay) { relay_ = std::move(relay); }
  // Another server's news: acted on here, not passed on.
  void heard(std::string_view news);

 private:
  std::mutex mu_;
  std::map<uint64_t, std::function<void()>> waiting_;
  uint64_t nextKey_ = 1;
  std::atomic<uint64_t> cancellations_{0};
  std::map<int64_t, int> runs_;
  std::function<void(std::string)> relay_;
  std::map<int64_t, std::chrono::steady_clock::time_point> relayed_;  // runs' news sent last
  void wakePolls();
  bool wakeEngine(int64_t runId);
};

}  // namespace boucle::scheduler
