#include "core/bell.h"

#include <vector>

namespace boucle {

Bell::Id Bell::listen(const std::string& key, std::function<void(bool)> fn) {
  std::unique_lock lock(mu_);
  Id id = next_++;
  if (ended_.count(key)) {
    lock.unlock();
    fn(true);
    return id;
  }
  byKey_.emplace(key, std::make_pair(id, std::move(fn)));
  keyOf_[id] = key;
  return id;
}

void Bell::forget(Id id) {
  std::lock_guard lock(mu_);
  auto k = keyOf_.find(id);
  if (k == keyOf_.end()) return;
  auto [from, to] = byKey_.equal_range(k->second);
  for (auto it = from; it != to; ++it) {
    if (it->second.first == id) {
      byKey_.erase(it);
      break;
    }
  }
  keyOf_.erase(k);
}

void Bell::ring(const std::string& key, bool ended) {
  std::vector<std::function<void(bool)>> woken;
  {
    std::lock_guard lock(mu_);
    if (ended && ended_.insert(key).second) {
      endedOrder_.push_back(key);
      if (endedOrder_.size() > kRecentEnds) {
        ended_.erase(endedOrder_.front());
        endedOrder_.pop_front();
      }
    }
    auto [from, to] = byKey_.equal_range(key);
    if (from == to) return;  // the common case: nobody follows this log
    for (auto it = from; it != to; ++it) {
      woken.push_back(std::move(it->second.second));
      keyOf_.erase(it->second.first);
    }
    byKey_.erase(from, to);
  }
  for (auto& fn : woken) fn(ended);
}

size_t Bell::listeners() const {
  std::lock_guard lock(mu_);
  return keyOf_.size();
}

Bell& logBell() {
  static Bell bell;
  return bell;
}

std::string logBellKey(int64_t runId, const std::string& job) {
  return "run/" + std::to_string(runId) + "/" + job;
}

std::string deployBellKey(int64_t deployId) {
  return "deploy/" + std::to_string(deployId);
}

}  // namespace boucle
