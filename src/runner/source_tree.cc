#include "runner/source_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "os/files.h"

namespace boucle::runner {

namespace {
constexpr uint64_t kCacheFileLimit = 64 * 1024;        // files up to this size are kept in memory
constexpr size_t kCacheTotalLimit = 64 * 1024 * 1024;  // for at most this much in total
}  // namespace

Result<SourceTree> SourceTree::scan(const std::filesystem::path& root) {
  SourceTree t;
  t.root_ = root;
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errnoStatus("open " + root.string(), errno);
  Status st = t.scanDir(fd, "");  // takes ownership of fd
  if (!st.ok()) return st;
  return t;
}

Status SourceTree::scanDir(int dirFd, const std::string& rel) {
  DIR* dir = ::fdopendir(dirFd);
  if (!dir) {
    ::close(dirFd);
    return errnoStatus("read " + (root_ / rel).string(), errno);
  }
  Status result;
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = rel.empty() ? std::string(name) : rel + "/" + std::string(name);
    struct stat st {};
    if (::fstatat(dirFd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      result = errnoStatus("stat " + (root_ / path).string(), errno);
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      entries_.push_back({Kind::kDir, st.st_mode & 07777, 0, path, {}, {}, false});
      int sub = ::openat(dirFd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      if (sub < 0) {
        result = errnoStatus("open " + (root_ / path).string(), errno);
        break;
      }
      result = scanDir(sub, path);
      if (!result.ok()) break;
    } else if (S_ISREG(st.st_mode)) {
      Entry f{Kind::kFile, st.st_mode & 07777, static_cast<uint64_t>(st.st_size), path, {}, {},
              false};
      if (f.size <= kCacheFileLimit && cachedBytes_ + f.size <= kCacheTotalLimit) {
        auto content = os::readFile(root_ / path);
        if (content.ok() && content->size() == f.size) {
          f.data = std::move(content).value();
          f.cached = true;
          cachedBytes_ += f.size;
        }
      }
      entries_.push_back(std::move(f));
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(dirFd, e->d_name, target.data(), target.size());
      if (n < 0) {
        result = errnoStatus("readlink " + (root_ / path).string(), errno);
        break;
      }
      target.resize(static_cast<size_t>(n));
      entries_.push_back({Kind::kSymlink, 0777, 0, path, target, {}, false});
    }  // sockets, fifos and devices are not part of a source tree: left out
  }
  ::closedir(dir);  // closes dirFd
  return result;
}

Status SourceTree::copyTo(const std::filesystem::path& dest) const {
  if (::mkdir(dest.c_str(), 0755) != 0) return errnoStatus("mkdir " + dest.string(), errno);
  os::Fd from(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  os::Fd to(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!from || !to) return errnoStatus("open " + dest.string(), errno);
  for (const Entry& e : entries_) {
    const char* p = e.path.c_str();
    if (e.kind == Kind::kDir) {
      if (::mkdirat(to.get(), p, e.mode | 0700) != 0) {
        return errnoStatus("mkdir " + (dest / e.path).string(), errno);
      }
    } else if (e.kind == Kind::kSymlink) {
      if (::symlinkat(e.target.c_str(), to.get(), p) != 0) {
        return errnoStatus("symlink " + (dest / e.path).string(), errno);
      }
    } else if (e.cached) {
      os::Fd out(::openat(to.get(), p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, e.mode));
      if (!out) return errnoStatus("create " + (dest / e.path).string(), errno);
      if (auto st = os::writeAll(out.get(), e.data); !st.ok()) return st;
    } else {
      os::Fd in(::openat(from.get(), p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
      if (!in) return errnoStatus("open " + (root_ / e.path).string(), errno);
      os::Fd out(::openat(to.get(), p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, e.mode));
      if (!out) return errnoStatus("create " + (dest / e.path).string(), errno);
      uint64_t left = e.size;
      while (left > 0) {
        ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, left, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errnoStatus("copy " + (root_ / e.path).string(), errno);
        if (n == 0) break;  // the file shrank since the scan: copy what is there
        left -= static_cast<uint64_t>(n);
      }
    }
  }
  return Status::Ok();
}

}  // namespace boucle::runner
