#pragma once
// The engine's side of a boucle-supervise process (see supervisor_protocol.h): one per job
// slot, reused from job to job.

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/status.h"

namespace boucle::runner {

// The supervisor program installed beside the running boucle binary (or $BOUCLE_SUPERVISOR).
Result<std::filesystem::path> supervisorPath();

class SupervisorClient {
 public:
  // Starts a supervisor and waits for its hello.
  static Result<std::unique_ptr<SupervisorClient>> start(const std::filesystem::path& program);
  ~SupervisorClient();
  SupervisorClient(const SupervisorClient&) = delete;
  SupervisorClient& operator=(const SupervisorClient&) = delete;

  // Asks for a job to be started. `outputFd` is the job's stdout and stderr (our copy stays ours
  // to close). The answer comes on fd(): read it with started() once fd() is readable, so the
  // caller can do other work while the job's program is being exec'd.
  // `cgroup`: a cgroup v2 folder the job is placed in before it execs ("" = none).
  // `extraFd`: a descriptor the job finds as 3 (-1: none); ours stays ours to close. The job's
  // stdin is /dev/null.
  Status request(Millis grace, const std::filesystem::path& cwd,
                 const std::vector<std::string>& argv, const std::vector<std::string>& env,
                 int outputFd, const std::filesystem::path& cgroup = {}, int extraFd = -1);
  // The answer to request(): the pid of the job's main process once exec'd, or why it could not
  // start (Invalid: the job's fault, the supervisor stays usable; Internal: it is broken).
  Result<pid_t> started();
  // Asks for the job to be stopped (TERM, then KILL after the grace period; again: at once).
  void terminate();
  // Readable when the start was answered, then when the job has ended (or the supervisor died).
  int fd() const { return sock_; }
  // After fd() became readable: the job's wait status, once all its processes are gone.
  Result<int> readExit();
  // Last resort when the supervisor itself does not answer.
  void kill(pid_t jobPid);
  bool broken() const { return broken_; }

 private:
  SupervisorClient(pid_t pid, int sock) : pid_(pid), sock_(sock) {}
  pid_t pid_;
  int sock_;
  bool broken_ = false;
};

}  // namespace boucle::runner
