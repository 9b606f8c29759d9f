#pragma once
// File helpers with the durability rules boucle relies on.

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace boucle::os {

// Writes `content` to a temporary file beside `path`, fsyncs it, renames it over `path` and
// fsyncs the directory: readers see the old file or the new one, never a torn one.
Status writeFileAtomic(const std::filesystem::path& path, std::string_view content,
                       int mode = 0644);
// The same rename without the fsyncs: whole against a crash of this process (kill -9), not of
// the machine — for state that means nothing after a reboot, such as which pids to end.
Status replaceFile(const std::filesystem::path& path, std::string_view content, int mode = 0644);

// Creates (or truncates) `path` and writes `content`, without fsync: for files that a crash
// may lose, such as a run's throwaway workspace.
Status writeFile(const std::filesystem::path& path, std::string_view content, int mode = 0644);

Result<std::string> readFile(const std::filesystem::path& path);

// write(2) until everything is written (retrying EINTR and short writes).
Status writeAll(int fd, std::string_view data);

Status fsyncDir(const std::filesystem::path& dir);

// Copies a directory tree (regular files, symlinks, directories; modes kept) into `to`, which
// must not exist. Uses copy_file_range so the data never passes through user space.
Status copyTree(const std::filesystem::path& from, const std::filesystem::path& to);

// A descriptor closed on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// A descriptor reading `text` from its start: a sealed memfd, so that scripts and arguments
// with secrets reach a process as its stdin or a /dev/fd/N file instead of its command line.
Result<Fd> sealedText(std::string_view text);

}  // namespace boucle::os
