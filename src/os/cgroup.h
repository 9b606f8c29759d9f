#pragma once
// A cgroup (v2) per job, where the kernel offers one: every process a job starts stays in its
// cgroup whatever it does (double fork, setsid, killing its own supervisor), so ending the
// job's cgroup ends all of them. Without a writable cgroup v2 hierarchy, jobs rely on their
// supervisor alone (a child subreaper), which a job run as a plain process can kill.
//
// Layout: <this process's cgroup>/boucle-<pid>/job-<n>. A server killed with -9 leaves its
// folder behind; the next process to open JobCgroups ends and removes folders of processes
// that no longer exist.

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>

namespace boucle::os {

class JobCgroups {
 public:
  // This process's folder for job cgroups, made once; null when cgroups cannot be used here.
  static JobCgroups* get();

  // A new, empty cgroup for one job ("" when it cannot be made).
  std::filesystem::path make();
  // Kills every process in `cg` (cgroup.kill, or each pid of cgroup.procs on older kernels)
  // and removes it once empty, waiting at most `waitMs`; false if it is still populated.
  static bool end(const std::filesystem::path& cg, int waitMs = 2000);

 private:
  explicit JobCgroups(std::filesystem::path base) : base_(std::move(base)) {}
  static std::optional<std::filesystem::path> ownCgroup();
  static void reapStale(const std::filesystem::path& parent);
  std::filesystem::path base_;
  std::atomic<uint64_t> next_{0};
};

}  // namespace boucle::os
