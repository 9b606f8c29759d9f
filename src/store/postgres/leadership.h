#pragma once
// Of the servers sharing a PostgreSQL database, one leads: it runs the duties that must happen
// once (polls, schedules, monitors, notifications). Leading is holding a session-level
// advisory lock on a connection of its own, so it ends with the server's process or its
// connection, and another server takes it at its next try.

#include <atomic>
#include <memory>
#include <string>

#include "store/sql/connection.h"

namespace boucle::store::postgres {

class Leadership {
 public:
  explicit Leadership(std::string url) : url_(std::move(url)) {}
  // Tries to lead, or checks that it still does (its connection answers): whether it leads.
  // From one thread (the heartbeat's).
  bool check();
  // What the last check found; from any thread.
  bool leads() const { return leads_.load(); }

 private:
  std::string url_;
  std::unique_ptr<sql::Connection> conn_;
  std::atomic<bool> leads_{false};
  std::string lastError_;  // the last connection error said, not to repeat it
};

}  // namespace boucle::store::postgres
