#include "scheduler/agent_board.h"

#include <unistd.h>

#include <charconv>
#include <chrono>

namespace boucle::scheduler {

void AgentBoard::jobQueued() {
  wakePolls();
  if (relay_) relay_("queued");
}

void AgentBoard::wakePolls() {
  std::map<uint64_t, std::function<void()>> wake;
  {
    std::lock_guard lock(mu_);
    wake.swap(waiting_);
  }
  for (auto& [key, w] : wake) w();
}

void AgentBoard::jobsCancelled() {
  ++cancellations_;
  wakePolls();
  if (relay_) relay_("cancelled");
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
  if (wakeEngine(runId) || !relay_) return;
  // An agent sends its log in pieces: the run's server hears of them at most every 100 ms (its
  // engine also looks at the store twice a second), not once a piece.
  {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (relayed_.size() > 4096) relayed_.clear();
    auto& last = relayed_[runId];
    if (now - last < std::chrono::milliseconds(100)) return;
    last = now;
  }
  relay_("run " + std::to_string(runId));
}

bool AgentBoard::wakeEngine(int64_t runId) {
  std::lock_guard lock(mu_);
  auto it = runs_.find(runId);
  if (it == runs_.end()) return false;
  // A full pipe already says there is news.
  [[maybe_unused]] auto n = ::write(it->second, "x", 1);
  return true;
}

void AgentBoard::heard(std::string_view news) {
  if (news == "queued") {
    wakePolls();
  } else if (news == "cancelled") {
    ++cancellations_;
    wakePolls();
  } else if (news.starts_with("run ")) {
    int64_t id = 0;
    auto digits = news.substr(4);
    if (std::from_chars(digits.data(), digits.data() + digits.size(), id).ec == std::errc())
      wakeEngine(id);
  }
}

}  // namespace boucle::scheduler
