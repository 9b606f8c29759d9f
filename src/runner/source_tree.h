#pragma once
// The run's snapshot, listed once, then copied into each job's workspace. Listing once saves
// every job the directory reads and stats of a tree walk: a copy is one mkdir per directory
// and open/write/close per file (small files are kept in memory, up to a bound; larger ones
// are copied with copy_file_range).

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"

namespace boucle::runner {

class SourceTree {
 public:
  static Result<SourceTree> scan(const std::filesystem::path& root);

  // Copies the tree into `dest`, which must not exist. Files are real copies (never hard links:
  // a job writing into a tracked file must not change what other jobs see).
  Status copyTo(const std::filesystem::path& dest) const;
  size_t size() const { return entries_.size(); }

 private:
  enum class Kind : uint8_t { kDir, kFile, kSymlink };
  struct Entry {
    Kind kind;
    mode_t mode;
    uint64_t size;
    std::string path;    // relative, parents listed before children
    std::string target;  // symlinks
    std::string data;    // content of small files, read once at scan time
    bool cached = false;
  };
  Status scanDir(int dirFd, const std::string& rel);

  std::filesystem::path root_;
  std::vector<Entry> entries_;
  size_t cachedBytes_ = 0;
};

}  // namespace boucle::runner
