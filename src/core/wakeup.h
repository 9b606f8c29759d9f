#pragma once
// What a background thread (agent, poller, notifier) sleeps on between rounds: woken early by
// wake(), ended by stop(), otherwise a timeout so a missed wake-up only costs one round.

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace boucle {

class Wakeup {
 public:
  void wake() {
    {
      std::lock_guard lock(mu_);
      woken_ = true;
    }
    cv_.notify_all();
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
  }
  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }
  // Sleeps until woken, stopped or `timeout`; false once stopped.
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return stopping_ || woken_; });
    woken_ = false;
    return !stopping_;
  }

 private:
  std::mutex mu_;  // guards stopping_ and woken_
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
};

}  // namespace boucle
