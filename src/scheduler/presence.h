#pragma once
// This server's presence in the database, for servers that share one (PostgreSQL): a heartbeat
// every few seconds, and the runs and deploys of a server that stopped answering (killed,
// cut off) marked interrupted by the others, so none stays "running" for ever.

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "core/wakeup.h"
#include "store/store.h"

namespace boucle::scheduler {

class Presence {
 public:
  struct Options {
    store::ServerRecord me;
    std::chrono::milliseconds period{5000};
    std::chrono::milliseconds timeout{60000};  // silent this long: the server is gone
    // The runs taken back from a lost server (to queue again those whose project asks).
    std::function<void(const std::vector<store::Run>&)> onOrphanRuns;
    // Tries to lead the servers (or checks it still does), at each heartbeat.
    std::function<bool()> lead;
  };

  Presence(store::Store& store, Options options) : store_(store), options_(std::move(options)) {}
  ~Presence() { stop(); }
  Presence(const Presence&) = delete;
  Presence& operator=(const Presence&) = delete;

  void start();
  // Stops the heartbeat and forgets this server: its runs were ended and recorded.
  void stop();

 private:
  void loop();
  void sweep();

  store::Store& store_;
  Options options_;
  Wakeup wakeup_;
  std::thread thread_;
  bool leading_ = false;  // the heartbeat thread's
  // Since when this server's own heartbeats have all been recorded (0: the last one failed).
  // It judges others silent only after a full timeout of its own: coming back from a database
  // outage, everyone's heartbeat looks old.
  int64_t healthySinceMs_ = 0;
};

}  // namespace boucle::scheduler
