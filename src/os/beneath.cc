#include "os/beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "core/encoding.h"

namespace boucle::os {

namespace {

bool escapes(std::string_view rel) {
  if (rel.empty() || rel.front() == '/') return true;
  for (const auto& part : split(rel, '/')) {
    if (part == "..") return true;
  }
  return false;
}

// Component by component, never following a symlink: the fallback for kernels without openat2.
Result<Fd> walkNoFollow(int dirFd, std::string_view rel, int flags, mode_t mode) {
  auto parts = split(rel, '/');
  Fd dir(::fcntl(dirFd, F_DUPFD_CLOEXEC, 0));
  if (!dir) return errnoStatus("dup", errno);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].empty() || parts[i] == ".") continue;
    Fd next(::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return errnoStatus(std::string(rel), errno);
    dir = std::move(next);
  }
  Fd f(::openat(dir.get(), parts.back().c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!f) return errnoStatus(std::string(rel), errno);
  return f;
}

}  // namespace

Result<Fd> openDirectory(const std::filesystem::path& dir) {
  Fd f(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!f) return errnoStatus(dir.string(), errno);
  return f;
}

Result<Fd> openBeneath(int dirFd, std::string_view rel, int flags, mode_t mode) {
  if (escapes(rel)) return Status::Invalid(std::string(rel) + ": not a path inside the folder");
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  std::string path(rel);
  long fd = ::syscall(SYS_openat2, dirFd, path.c_str(), &how, sizeof how);
  if (fd >= 0) return Fd(static_cast<int>(fd));
  if (errno == ENOSYS) return walkNoFollow(dirFd, rel, flags, mode);
  if (errno == EXDEV) return Status::Invalid(path + " leads out of the folder (a symlink?)");
  return errnoStatus(path, errno);
}

Result<Fd> makeDirsBeneath(int dirFd, std::string_view relDir) {
  Fd dir(::fcntl(dirFd, F_DUPFD_CLOEXEC, 0));
  if (!dir) return errnoStatus("dup", errno);
  if (relDir.empty()) return dir;
  if (escapes(relDir)) return Status::Invalid(std::string(relDir) + ": not inside the folder");
  for (const auto& part : split(relDir, '/')) {
    if (part.empty() || part == ".") continue;
    if (::mkdirat(dir.get(), part.c_str(), 0755) != 0 && errno != EEXIST)
      return errnoStatus("mkdir " + std::string(relDir), errno);
    auto next = openBeneath(dir.get(), part, O_RDONLY | O_DIRECTORY);
    if (!next.ok()) return next.status();
    dir = std::move(next).value();
  }
  return dir;
}

}  // namespace boucle::os
