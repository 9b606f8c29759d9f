#include "scheduler/agent_board.h"

#include <unistd.h>

namespace boucle::scheduler {

void AgentBoard::jobQueued() {
  std::map<uint64_t, std::function<void()>> wake;
  {
    std::lock_guard lock(mu_);
    wake.swap(waiting_);
  }
  for (auto& [key, w] : wake) w();
}

void AgentBoard::jobsCancelled() {
  ++cancellations_;
  jobQueued();
}

uint64_t AgentBoard::onJobQueued(std::function<void()> wake) {
  std::lock_guard lock(mu_);
  waiting_.emplace(nextKey_, std::move(wake));
  return nextKey_++;
}

void AgentBoard::forget(uint64_t key) {
  std::lock_guard lock(mu_);
  waiting_.erase(key);
}

void AgentBoard::listen(int64_t runId, int writeFd) {
  std::lock_guard lock(mu_);
  runs_[runId] = writeFd;
}

void AgentBoard::unlisten(int64_t runId) {
  std::lock_guard lock(mu_);
  runs_.erase(runId);
}

void AgentBoard::runChanged(int64_t runId) {
  std::lock_guard lock(mu_);
  auto it = runs_.find(runId);
  // A full pipe already says there is news.
  if (it != runs_.end()) [[maybe_unused]]
    auto n = ::write(it->second, "x", 1);
}

}  // namespace boucle::scheduler
