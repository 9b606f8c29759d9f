#include "api/log_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/bell.h"
#include "os/files.h"

namespace boucle::api {

namespace {

constexpr size_t kPiece = 64 * 1024;
// How often a follower asks whether its job ended when no bell says so (a missed ring).
constexpr auto kEndedCheck = std::chrono::seconds(5);

class LogStream : public BodyStream {
 public:
  LogStream(std::filesystem::path file, uint64_t offset, bool follow, std::function<bool()> done,
            std::vector<std::string> bellKeys, uint64_t limit = UINT64_MAX)
      : file_(std::move(file)),
        offset_(offset),
        follow_(follow),
        done_(std::move(done)),
        keys_(std::move(bellKeys)),
        left_(limit) {}
  ~LogStream() override { forget(); }

  Piece next() override {
    Piece p;
    if (!fd_) fd_.reset(::open(file_.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd_ && left_ > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(kPiece, left_));
      p.data.resize(want);
      ssize_t n = ::pread(fd_.get(), p.data.data(), want, static_cast<off_t>(offset_));
      p.data.resize(n > 0 ? static_cast<size_t>(n) : 0);
      offset_ += p.data.size();
      left_ -= p.data.size();
    }
    if (!p.data.empty()) return p;
    if (!follow_ || finishedSeen_) {
      p.done = true;
      return p;
    }
    // Nothing new. Ask whether the job ended (the store, once at the start, when the bell
    // says so, else every few seconds), then read once more, so bytes written just before
    // it ended are never lost between the two.
    auto now = std::chrono::steady_clock::now();
    if (!askedOnce_ || ended_->load() || now - lastAsked_ >= kEndedCheck) {
      askedOnce_ = true;
      lastAsked_ = now;
      finishedSeen_ = done_();
    }
    p.retryMs = finishedSeen_ ? 0 : 100;
    return p;
  }

  bool onMore(std::function<void()> wake) override {
    if (keys_.empty()) return false;
    forget();
    auto ended = ended_;
    for (const auto& key : keys_) {
      ids_.push_back(logBell().listen(key, [ended, wake](bool end) {
        if (end) ended->store(true);
        wake();
      }));
    }
    // Something may have come between the last read and listening: look once.
    struct stat st {};
    if (ended_->load() ||
        (fd_ && ::fstat(fd_.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) > offset_)) {
      wake();
    }
    return true;
  }

 private:
  void forget() {
    for (auto id : ids_) logBell().forget(id);
    ids_.clear();
  }

  std::filesystem::path file_;
  uint64_t offset_;
  bool follow_;
  std::function<bool()> done_;
  std::vector<std::string> keys_;
  std::vector<Bell::Id> ids_;
  // Shared with the bell's callbacks, which may run after this stream is gone.
  std::shared_ptr<std::atomic<bool>> ended_ = std::make_shared<std::atomic<bool>>(false);
  uint64_t left_;  // bytes still to send (a Range's length)
  bool finishedSeen_ = false;
  bool askedOnce_ = false;
  std::chrono::steady_clock::time_point lastAsked_;
  os::Fd fd_;
};

}  // namespace

std::shared_ptr<BodyStream> makeLogStream(std::filesystem::path file, uint64_t offset, bool follow,
                                          std::function<bool()> jobFinished,
                                          std::vector<std::string> bellKeys) {
  return std::make_shared<LogStream>(std::move(file), offset, follow, std::move(jobFinished),
                                     std::move(bellKeys));
}

std::shared_ptr<BodyStream> makeFileStream(std::filesystem::path file, uint64_t offset,
                                           uint64_t length) {
  return std::make_shared<LogStream>(
      std::move(file), offset, false, [] { return true; }, std::vector<std::string>{}, length);
}

}  // namespace boucle::api
