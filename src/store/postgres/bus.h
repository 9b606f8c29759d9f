#pragma once
// What the servers sharing a PostgreSQL database tell each other, the moment it happens: a job
// queued for the agents, news of a run's remote job, a cancel for the run's own server, a live
// event for the others' clients. LISTEN/NOTIFY on a session of the bus's own, run by a thread
// of its own, so no caller ever waits on the database to tell something.
//
// News is best effort: while the database is away it is dropped, and what waits on it also
// looks at the store every few seconds. A server never hears its own news back.

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "os/files.h"

namespace boucle::store::postgres {

class Bus {
 public:
  using Heard = std::function<void(std::string_view news)>;
  // `self` names this server in what it sends (no spaces).
  Bus(std::string url, std::string self);
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  // `heard` is called on the bus's thread for each piece of the others' news.
  void start(Heard heard);
  void stop();
  // Queued for the others; news too long for a NOTIFY (about 8 KB) is dropped.
  void tell(std::string news);

  static constexpr size_t kMaxNews = 7900;

 private:
  void loop();
  bool waitOn(int fd, int timeoutMs);

  std::string url_;
  std::string self_;
  Heard heard_;
  std::mutex mu_;
  std::deque<std::string> out_;
  os::Fd wake_[2];
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace boucle::store::postgres
