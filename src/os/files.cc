#include "os/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

namespace boucle::os {
namespace fs = std::filesystem;

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Status writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoStatus("write", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status fsyncDir(const fs::path& dir) {
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d) return errnoStatus("open " + dir.string(), errno);
  if (::fsync(d.get()) != 0) return errnoStatus("fsync " + dir.string(), errno);
  return Status::Ok();
}

namespace {

// A temporary file beside `path`, renamed over it; with `durable`, both fsynced first.
Status renameInto(const fs::path& path, std::string_view content, int mode, bool durable) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(rng() % 1000000000);
  Fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!f) return errnoStatus("create " + tmp.string(), errno);
  Status st = writeAll(f.get(), content);
  if (st.ok() && durable && ::fsync(f.get()) != 0) st = errnoStatus("fsync " + tmp.string(), errno);
  f.reset();
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = errnoStatus("rename to " + path.string(), errno);
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (!durable) return Status::Ok();
  return fsyncDir(path.parent_path().empty() ? fs::path(".") : path.parent_path());
}

}  // namespace

Status writeFileAtomic(const fs::path& path, std::string_view content, int mode) {
  return renameInto(path, content, mode, true);
}

Status replaceFile(const fs::path& path, std::string_view content, int mode) {
  return renameInto(path, content, mode, false);
}

Status writeFile(const fs::path& path, std::string_view content, int mode) {
  Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!f) return errnoStatus("create " + path.string(), errno);
  return writeAll(f.get(), content);
}

Result<std::string> readFile(const fs::path& path) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f) return errnoStatus("open " + path.string(), errno);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(f.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoStatus("read " + path.string(), errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

namespace {

Status copyFile(const fs::path& from, const fs::path& to, mode_t mode) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return errnoStatus("open " + from.string(), errno);
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777));
  if (!out) return errnoStatus("create " + to.string(), errno);
  for (;;) {
    ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoStatus("copy " + from.string(), errno);
    }
    if (n == 0) break;
  }
  return Status::Ok();
}

}  // namespace

Status copyTree(const fs::path& from, const fs::path& to) {
  struct stat st {};
  if (::lstat(from.c_str(), &st) != 0) return errnoStatus("stat " + from.string(), errno);
  if (::mkdir(to.c_str(), st.st_mode & 07777) != 0)
    return errnoStatus("mkdir " + to.string(), errno);
  DIR* dir = ::opendir(from.c_str());
  if (!dir) return errnoStatus("opendir " + from.string(), errno);
  Status result;
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    fs::path src = from / e->d_name, dst = to / e->d_name;
    struct stat s {};
    if (::lstat(src.c_str(), &s) != 0) {
      result = errnoStatus("stat " + src.string(), errno);
      break;
    }
    if (S_ISDIR(s.st_mode)) {
      result = copyTree(src, dst);
    } else if (S_ISLNK(s.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(src.c_str(), target, sizeof target - 1);
      if (n < 0 ||
          ::symlink(std::string(target, static_cast<size_t>(n)).c_str(), dst.c_str()) != 0) {
        result = errnoStatus("symlink " + dst.string(), errno);
      }
    } else if (S_ISREG(s.st_mode)) {
      result = copyFile(src, dst, s.st_mode);
    }  // sockets, fifos and devices are not part of a source tree: left out
    if (!result.ok()) break;
  }
  ::closedir(dir);
  return result;
}

Result<Fd> sealedText(std::string_view text) {
  Fd fd(::memfd_create("boucle-text", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return errnoStatus("memfd_create", errno);
  if (auto st = writeAll(fd.get(), text); !st.ok()) return st;
  ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
  ::lseek(fd.get(), 0, SEEK_SET);
  return fd;
}

}  // namespace boucle::os
