#include "api/log_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "os/files.h"

namespace boucle::api {

namespace {

constexpr size_t kPiece = 64 * 1024;

class LogStream : public BodyStream {
 public:
  LogStream(std::filesystem::path file, uint64_t offset, bool follow, std::function<bool()> done,
            uint64_t limit = UINT64_MAX)
      : file_(std::move(file)),
        offset_(offset),
        follow_(follow),
        done_(std::move(done)),
        left_(limit) {}

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
    // Nothing new. Check "finished" before reading once more, so bytes written just before
    // the job ended are never lost between the two.
    if (!follow_ || finishedSeen_) {
      p.done = true;
      return p;
    }
    finishedSeen_ = done_();
    p.retryMs = finishedSeen_ ? 0 : 100;
    return p;
  }

 private:
  std::filesystem::path file_;
  uint64_t offset_;
  bool follow_;
  std::function<bool()> done_;
  uint64_t left_;  // bytes still to send (a Range's length)
  bool finishedSeen_ = false;
  os::Fd fd_;
};

}  // namespace

std::shared_ptr<BodyStream> makeLogStream(std::filesystem::path file, uint64_t offset, bool follow,
                                          std::function<bool()> jobFinished) {
  return std::make_shared<LogStream>(std::move(file), offset, follow, std::move(jobFinished));
}

std::shared_ptr<BodyStream> makeFileStream(std::filesystem::path file, uint64_t offset,
                                           uint64_t length) {
  return std::make_shared<LogStream>(
      std::move(file), offset, false, [] { return true; }, length);
}

}  // namespace boucle::api
