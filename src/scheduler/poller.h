#pragma once
// Polling and schedules: each project with a poll interval has its repository's branch heads read
// with `git ls-remote`; a watched branch whose head changed since last seen gets a run of the new
// head (only the newest commit when several landed between two polls).

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "core/wakeup.h"
#include "scheduler/agent.h"
#include "store/store.h"
#include "vault/retention.h"

namespace boucle::scheduler {

// Queues a run of `commit` on `branch` unless that head was already seen (by a poll or a
// webhook); records it as seen. Returns the run's id, or 0 when there was nothing new.
Result<int64_t> queueIfNew(store::Store& store, const std::string& project,
                           const std::string& branch, const std::string& commit,
                           const std::string& trigger, const std::string& author = "",
                           const std::string& subject = "");

class Poller {
 public:
  Poller(store::Store& store, Agent& agent) : store_(store), agent_(agent) {}
  ~Poller() { stop(); }
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  void start();
  void stop();
  // Prunes artifacts by `policy` at start and every hour (vault/retention.h).
  // Whether this server leads those sharing its database (polls and schedules are the
  // leader's; retention is each server's, for its own data folder). Before start().
  void setLeads(std::function<bool()> leads) { leads_ = std::move(leads); }

  void setRetention(vault::RetentionPolicy policy, std::filesystem::path blobRoot) {
    retention_ = policy;
    blobRoot_ = std::move(blobRoot);
  }
  // Polls one project now; returns how many runs were queued.
  Result<int> pollProject(const store::Project& project);

 private:
  void loop();
  void fireSchedules();

  store::Store& store_;
  Agent& agent_;
  std::thread thread_;
  Wakeup wakeup_;
  std::map<std::string, int64_t> nextPollMs_;  // poller thread only
  vault::RetentionPolicy retention_;
  std::filesystem::path blobRoot_;
  int64_t nextPruneMs_ = 0;
  std::function<bool()> leads_;
  void pruneIfDue();
};

}  // namespace boucle::scheduler
