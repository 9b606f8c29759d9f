#pragma once
// Wake-ups by name between threads: a log's writer rings its key when the log grows or its job
// ends, and whoever follows that log (an HTTP client of `boucle logs -f`, the web UI) is woken
// then, instead of each follower polling the file and the database several times a second.
// A listener is called once, on the ringing thread, and must only hand the news on (post to
// its own executor); it is forgotten once called.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace boucle {

class Bell {
 public:
  using Id = uint64_t;
  // `fn(ended)` at the next ring of `key`; `ended` when the writer said it is done. A key
  // that ended recently calls `fn(true)` at once: a listener that comes just after the last
  // ring is not left waiting.
  Id listen(const std::string& key, std::function<void(bool ended)> fn);
  void forget(Id id);
  void ring(const std::string& key, bool ended = false);
  size_t listeners() const;

 private:
  mutable std::mutex mu_;  // guards everything below
  Id next_ = 1;
  std::multimap<std::string, std::pair<Id, std::function<void(bool)>>> byKey_;
  std::map<Id, std::string> keyOf_;
  static constexpr size_t kRecentEnds = 4096;
  std::deque<std::string> endedOrder_;  // the last kRecentEnds keys rung as ended
  std::set<std::string> ended_;
};

// The one bell logs ring: keys from logBellKey.
Bell& logBell();
std::string logBellKey(int64_t runId, const std::string& job);  // "" job: the whole run
std::string deployBellKey(int64_t deployId);

}  // namespace boucle
