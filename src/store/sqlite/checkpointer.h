#pragma once
// Copies the WAL's pages into the database file on a thread and connection of its own.
// SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000 pages,
// with an fsync of the database file: every ~45 runs one of them waited 7-8 ms for it here, on
// its way from a push to its first job. Writers go on appending to the WAL while a passive
// checkpoint runs, so no commit waits for one.

#include <sqlite3.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace boucle::store::sqlite {

class Checkpointer {
 public:
  static constexpr int kPages = 1000;  // SQLite's own threshold

  explicit Checkpointer(std::string path) : path_(std::move(path)) {}
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Takes over `writer`'s checkpoints (its automatic ones stop). The thread and its connection
  // start at the first checkpoint due, so an idle server has neither.
  void attach(sqlite3* writer);
  // Checkpoints done so far (for tests).
  int done() const;

 private:
  static int onCommit(void* self, sqlite3* db, const char* name, int pages);
  void loop();

  std::string path_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool due_ = false;
  bool stopping_ = false;
  int done_ = 0;
  std::thread thread_;
};

}  // namespace boucle::store::sqlite
