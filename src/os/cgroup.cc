#include "os/cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "core/encoding.h"
#include "os/files.h"

namespace boucle::os {
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  auto r = readFile(p);
  return r.ok() ? *r : std::string();
}

bool populated(const fs::path& cg) {
  return read(cg / "cgroup.events").find("populated 1") != std::string::npos;
}

// The cgroups a job made inside its own (it may write there when it runs as the server's
// user), deepest first: a cgroup with children cannot be removed, and without cgroup.kill
// their processes are listed only in their own cgroup.procs.
std::vector<fs::path> innerCgroups(const fs::path& cg) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cg, ec)) {
    if (!e.is_directory(ec) || e.is_symlink(ec)) continue;
    auto inner = innerCgroups(e.path());
    out.insert(out.end(), inner.begin(), inner.end());
    out.push_back(e.path());
  }
  return out;
}

}  // namespace

// The cgroup2 mount point (from mountinfo) joined with our own cgroup's path.
std::optional<fs::path> JobCgroups::ownCgroup() {
  std::string mount;
  std::istringstream info(read("/proc/self/mountinfo"));
  for (std::string line; std::getline(info, line);) {
    auto dash = line.find(" - cgroup2 ");
    if (dash == std::string::npos) continue;
    auto fields = split(line.substr(0, dash), ' ');
    if (fields.size() > 4) mount = fields[4];
    break;
  }
  if (mount.empty()) return std::nullopt;
  std::istringstream self(read("/proc/self/cgroup"));
  for (std::string line; std::getline(self, line);) {
    if (line.starts_with("0::")) return fs::path(mount) / fs::path(line.substr(3)).relative_path();
  }
  return std::nullopt;
}

void JobCgroups::reapStale(const fs::path& parent) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    std::string name = e.path().filename();
    if (!name.starts_with("boucle-")) continue;
    pid_t pid = static_cast<pid_t>(std::atoi(name.c_str() + 7));
    if (pid <= 0 || pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    for (const auto& job : fs::directory_iterator(e.path(), ec)) {
      if (job.is_directory(ec)) end(job.path(), 500);
    }
    ::rmdir(e.path().c_str());
  }
}

JobCgroups* JobCgroups::get() {
  static JobCgroups* instance = []() -> JobCgroups* {
    auto own = ownCgroup();
    if (!own) return nullptr;
    reapStale(*own);
    fs::path base = *own / ("boucle-" + std::to_string(::getpid()));
    if (::mkdir(base.c_str(), 0755) != 0 && errno != EEXIST) return nullptr;
    if (::access((base / "cgroup.procs").c_str(), W_OK) != 0) {
      ::rmdir(base.c_str());
      return nullptr;
    }
    static std::string atExit = base.string();
    std::atexit([] { ::rmdir(atExit.c_str()); });  // empty by then, unless a job is stuck
    return new JobCgroups(base);                   // lives as long as the process
  }();
  return instance;
}

fs::path JobCgroups::make() {
  fs::path cg = base_ / ("job-" + std::to_string(next_++));
  if (::mkdir(cg.c_str(), 0755) != 0) return {};
  return cg;
}

bool JobCgroups::end(const fs::path& cg, int waitMs) {
  if (cg.empty()) return true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs);
  bool killFile = ::access((cg / "cgroup.kill").c_str(), W_OK) == 0;
  for (;;) {
    auto inner = innerCgroups(cg);
    if (!populated(cg)) {
      for (const auto& c : inner) ::rmdir(c.c_str());
      if (::rmdir(cg.c_str()) == 0 || errno == ENOENT) return true;
    }
    if (killFile) {
      (void)writeFile(cg / "cgroup.kill", "1");  // the inner cgroups' processes too
    } else {
      inner.push_back(cg);
      for (const auto& c : inner) {
        std::istringstream procs(read(c / "cgroup.procs"));
        for (pid_t pid; procs >> pid;) ::kill(pid, SIGKILL);
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace boucle::os
