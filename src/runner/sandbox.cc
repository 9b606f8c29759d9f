#include "runner/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "os/process.h"

namespace boucle::runner {
namespace fs = std::filesystem;

Result<std::string> findBubblewrap() {
  auto found = os::findOnPath("bwrap");
  if (found.ok()) return found;
  if (::access("/usr/bin/bwrap", X_OK) == 0) return std::string("/usr/bin/bwrap");
  return Status::NotFound("the sandbox needs bubblewrap (apt-get install bubblewrap)");
}

namespace {

using Entries = std::vector<std::pair<std::string, bool>>;

// One fstatat per entry, relative to its folder's descriptor. Written by hand because the
// walkers at hand look each path up whole from / (std::filesystem, fts without FTS_CHDIR,
// several times slower over /usr's hundreds of thousands of entries), or move the process's
// working folder (fts), which a server's other threads share.
void scanFolder(int dirFd, const std::string& path, Entries& out) {
  DIR* d = ::fdopendir(dirFd);
  if (!d) {
    ::close(dirFd);
    return;
  }
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == ".." || e->d_type == DT_LNK) continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISLNK(st.st_mode))
      continue;
    bool dir = S_ISDIR(st.st_mode);
    bool readable = (st.st_mode & S_IROTH) && (!dir || (st.st_mode & S_IXOTH));
    std::string full = path + "/" + e->d_name;
    if (!readable) {
      out.emplace_back(std::move(full), dir);  // a folder is covered whole
    } else if (dir) {
      int fd = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) scanFolder(fd, full, out);
    }
  }
  ::closedir(d);
}

Entries scanUnreadable(const std::string& root) {
  Entries out;
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) scanFolder(fd, root == "/" ? "" : root, out);
  return out;
}

std::mutex scansMu;
std::map<std::string, Entries> scans;  // root → its last scan
std::mutex scanningMu;                 // one scan at a time: a first job waits for the one
                                       // under way instead of making its own beside it

}  // namespace

Entries unreadableEntries(const std::string& root) {
  Entries found;
  bool known = false;
  {
    std::lock_guard lock(scansMu);
    auto it = scans.find(root);
    if (it != scans.end()) {
      found = it->second;
      known = true;
    }
  }
  if (!known) {
    std::lock_guard scanning(scanningMu);
    {
      std::lock_guard lock(scansMu);
      auto it = scans.find(root);
      known = it != scans.end();
      if (known) found = it->second;
    }
    if (!known) {
      found = scanUnreadable(root);
      std::lock_guard lock(scansMu);
      scans.try_emplace(root, found);
    }
  }
  // An entry removed since the scan cannot be covered (bwrap would fail making its mount
  // point on a read-only /), and need not be.
  std::erase_if(found, [](const auto& e) {
    struct stat st {};
    return ::lstat(e.first.c_str(), &st) != 0 || S_ISDIR(st.st_mode) != e.second;
  });
  return found;
}

void prewarmSandbox() {
  for (const char* root : {"/etc", "/usr", "/opt"}) {
    std::lock_guard scanning(scanningMu);
    Entries fresh = scanUnreadable(root);  // jobs start meanwhile with the last scan
    std::lock_guard lock(scansMu);
    scans[root] = std::move(fresh);
  }
}

namespace {

// Is `p` inside (or equal to) `dir`? Both absolute and lexically normal.
bool within(const fs::path& p, const fs::path& dir) {
  auto rel = p.lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

// A hidden folder that needs covering: absolute, normal, and not already out of sight under the
// sandbox's own /tmp or /home (a server whose home is /home/boucle must not lose the job's).
bool needsCover(const fs::path& h) {
  return h.is_absolute() && h != "/" && h.lexically_normal() == h && !within(h, "/tmp") &&
         !within(h, "/home");
}

// The hidden folders to cover: each once, and none inside another (out of sight already; a
// second cover inside the first could not be made read-only: bwrap refuses the remount).
std::vector<fs::path> covers(const std::vector<fs::path>& hidden) {
  std::vector<fs::path> out;
  for (const auto& h : hidden) {
    if (!needsCover(h)) continue;
    bool inside = std::any_of(hidden.begin(), hidden.end(), [&](const fs::path& o) {
      return needsCover(o) && o != h && within(h, o);
    });
    if (!inside && std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
  }
  return out;
}

void addSystem(std::vector<std::string>& a, const SandboxSpec& spec) {
  a.insert(a.end(), {"--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"});
  bool opt = ::access("/opt", F_OK) == 0;
  if (opt) a.insert(a.end(), {"--ro-bind", "/opt", "/opt"});
  // A job of a server run as root is root's uid on the host too (with no capabilities): the
  // owner's permission checks would let it read root's private files. Whatever others may not
  // read is covered, in every folder the sandbox shows.
  for (const char* shown : {"/etc", "/usr", "/opt"}) {
    if (std::string_view(shown) == "/opt" && !opt) continue;
    for (const auto& [path, dir] : unreadableEntries(shown)) {
      if (dir)
        a.insert(a.end(), {"--tmpfs", path});
      else
        a.insert(a.end(), {"--ro-bind", "/dev/null", path});
    }
  }
  // Debian's merged /usr: the top-level directories are symlinks into /usr.
  for (const char* d : {"bin", "lib", "lib32", "lib64", "sbin"}) {
    std::string top = std::string("/") + d;
    char target[256];
    ssize_t n = ::readlink(top.c_str(), target, sizeof target - 1);
    if (n > 0) a.insert(a.end(), {"--symlink", std::string(target, static_cast<size_t>(n)), top});
  }
  // A resolv.conf managed elsewhere (systemd-resolved, resolvconf) points out of /etc.
  std::error_code ec;
  if (fs::is_symlink("/etc/resolv.conf", ec)) {
    auto real = fs::canonical("/etc/resolv.conf", ec);
    if (!ec && !within(real, "/etc") && !within(real, "/usr"))
      a.insert(a.end(), {"--ro-bind", real.string(), real.string()});
  }
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/home",
                     "--dir", kSandboxHome});
  // What must stay out of sight even under a folder shown above (a data folder in /opt, a home
  // in /usr/local): covered before the workspace, which may lie inside, is bound.
  for (const auto& h : covers(spec.hidden)) a.insert(a.end(), {"--tmpfs", h.string()});
}

}  // namespace

std::vector<std::string> sandboxArgv(const std::string& bwrap, const SandboxSpec& spec) {
  std::vector<std::string> a{bwrap, "--unshare-all", "--die-with-parent", "--new-session"};
  if (spec.network) a.push_back("--share-net");
  if (::geteuid() == 0) {
    // Root on the host must not be root in the sandbox: map to an ordinary uid, drop all caps.
    a.insert(a.end(), {"--unshare-user", "--uid", "1000", "--gid", "1000", "--cap-drop", "ALL"});
  }
  addSystem(a, spec);
  a.insert(a.end(), {"--bind", spec.workspace.string(), spec.workspace.string()});
  for (const auto& [host, inside] : spec.binds) {
    a.insert(a.end(), {"--bind", host.string(), inside.string()});
  }
  // The folders covering hidden ones hold only the way down to the workspace: read-only, so
  // a job cannot leave files there that look like the server's.
  for (const auto& h : covers(spec.hidden)) a.insert(a.end(), {"--remount-ro", h.string()});
  a.insert(a.end(), {"--chdir", spec.workspace.string(), "--clearenv"});
  for (const auto& kv : spec.env) {
    auto eq = kv.find('=');
    a.insert(a.end(), {"--setenv", kv.substr(0, eq), kv.substr(eq + 1)});
  }
  a.push_back("--");
  a.insert(a.end(), spec.command.begin(), spec.command.end());
  return a;
}

Result<BwrapLaunch> throughArgsDescriptor(const std::vector<std::string>& argv) {
  BwrapLaunch l;
  if (argv.empty()) return l;
  // Descriptor 3: bwrap closes the one it reads, and the job's stdin must stay /dev/null.
  l.commandLine = {argv[0], "--args", "3"};
  size_t i = 1;
  for (; i < argv.size() && argv[i] != "--"; ++i) {
    // A NUL would end this argument and start another: a value such as "x\0--bind\0/\0/h"
    // in a job's environment would become options of bwrap's own.
    if (argv[i].find('\0') != std::string::npos)
      return Status::Invalid("a sandbox argument holds a NUL byte (an environment value?)");
    l.options += argv[i];
    l.options += '\0';
  }
  l.commandLine.insert(l.commandLine.end(), argv.begin() + static_cast<std::ptrdiff_t>(i),
                       argv.end());
  return l;
}

}  // namespace boucle::runner
