#include "store/sqlite/checkpointer.h"

#include "core/log.h"

namespace boucle::store::sqlite {

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::attach(sqlite3* writer) {
  sqlite3_wal_hook(writer, &Checkpointer::onCommit, this);
}

int Checkpointer::done() const {
  std::lock_guard lock(mu_);
  return done_;
}

// Called by SQLite after each commit, on the committing thread: only signals.
int Checkpointer::onCommit(void* self, sqlite3*, const char*, int pages) {
  auto* c = static_cast<Checkpointer*>(self);
  if (pages < kPages) return SQLITE_OK;
  std::lock_guard lock(c->mu_);
  if (c->stopping_) return SQLITE_OK;
  c->due_ = true;
  if (!c->thread_.joinable()) c->thread_ = std::thread([c] { c->loop(); });
  c->cv_.notify_one();
  return SQLITE_OK;
}

void Checkpointer::loop() {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    logError("database checkpoints: cannot open " + path_ + ": " + sqlite3_errmsg(db));
    sqlite3_close_v2(db);
    return;  // the WAL keeps growing; SQLite checkpoints it when the server closes it
  }
  sqlite3_busy_timeout(db, 5000);
  // A new connection knows the file is in WAL mode only once it has read it.
  sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return due_ || stopping_; });
    if (stopping_) break;
    due_ = false;
    lock.unlock();
    int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      logError(std::string("database checkpoint: ") + sqlite3_errmsg(db));
    }
    lock.lock();
    ++done_;
  }
  lock.unlock();
  sqlite3_close_v2(db);
}

}  // namespace boucle::store::sqlite
