#pragma once
// Each run's state set as a commit status on its project's forge (notify/forge_status.h): told
// of every write of a run as a store observer (quickly, under the store's lock), it queues a
// delivery for each change of a run's state on a thread of its own, where the store may be
// called; the notifier sends them, retried like notifications and recorded with the run's.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/wakeup.h"
#include "store/store.h"

namespace boucle::notify {

class StatusPublisher : public store::StoreObserver {
 public:
  // `baseUrl`: where people reach this server (the statuses' links go to its run pages).
  StatusPublisher(store::Store& store, std::string baseUrl);
  ~StatusPublisher() override { stop(); }
  StatusPublisher(const StatusPublisher&) = delete;
  StatusPublisher& operator=(const StatusPublisher&) = delete;

  void runChanged(const store::Run& r) override;
  // Called after deliveries were queued (the notifier's wake()). Before start().
  void setQueued(std::function<void()> queued) { queued_ = std::move(queued); }
  void setBaseUrl(std::string url) { baseUrl_ = std::move(url); }  // before start()
  void start();
  void stop();

 private:
  void loop();
  void publish(int64_t runId, store::RunState state);

  store::Store& store_;
  std::string baseUrl_;
  std::function<void()> queued_;
  std::mutex mu_;  // guards changes_ and seen_
  std::deque<std::pair<int64_t, store::RunState>> changes_;
  std::map<int64_t, store::RunState> seen_;  // runs not finished: their last state told
  Wakeup wakeup_;
  std::thread thread_;
};

}  // namespace boucle::notify
