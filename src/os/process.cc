#include "os/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>

namespace boucle::os {

namespace {

struct SpawnAttrs {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnAttrs() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnAttrs() {
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
  }
  SpawnAttrs(const SpawnAttrs&) = delete;
  SpawnAttrs& operator=(const SpawnAttrs&) = delete;
};

}  // namespace

Result<pid_t> spawnProcess(const SpawnSpec& spec) {
  if (spec.argv.empty()) return Status::Invalid("empty command");
  SpawnAttrs a;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  // SETSIGDEF resets handled *and ignored* signals: a parent that ignores SIGPIPE must not pass
  // that on, or `yes | head` prints "Broken pipe" into the job's log.
  posix_spawnattr_setsigmask(&a.attr, &none);
  posix_spawnattr_setsigdefault(&a.attr, &all);
  posix_spawnattr_setpgroup(&a.attr, 0);
  posix_spawnattr_setflags(&a.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_USEVFORK);
  if (spec.inputFd >= 0) {
    posix_spawn_file_actions_adddup2(&a.actions, spec.inputFd, 0);
  } else {
    posix_spawn_file_actions_addopen(&a.actions, 0, "/dev/null", O_RDONLY, 0);
  }
  if (spec.outputFd >= 0) {
    posix_spawn_file_actions_adddup2(&a.actions, spec.outputFd, 1);
    posix_spawn_file_actions_adddup2(&a.actions, spec.outputFd, 2);
  }
  if (spec.fd3 >= 0) posix_spawn_file_actions_adddup2(&a.actions, spec.fd3, 3);
  posix_spawn_file_actions_addclosefrom_np(&a.actions, spec.fd3 >= 0 ? 4 : 3);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&a.actions, spec.cwd.c_str());

  std::vector<char*> argv, envp;
  for (auto& s : spec.argv) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  for (auto& s : spec.env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &a.actions, &a.attr, argv.data(), envp.data());
  if (rc != 0) return errnoStatus("cannot start " + spec.argv[0], rc);
  return pid;
}

Result<std::string> findOnPath(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string_view p = path && *path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t colon = std::min(p.find(':', start), p.size());
    std::string cand = std::string(p.substr(start, colon - start)) + "/" + std::string(name);
    if (access(cand.c_str(), X_OK) == 0) return cand;
    start = colon + 1;
  }
  return Status::NotFound(std::string(name) + " is not installed (not found on PATH)");
}

Status makeOutputPipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) return errnoStatus("pipe", errno);
  fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);  // best effort: the default 64 KiB costs context switches
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  return Status::Ok();
}

}  // namespace boucle::os

#include <poll.h>
#include <sys/wait.h>

extern char** environ;

namespace boucle::os {

Result<CaptureResult> runAndCapture(const std::vector<std::string>& argv,
                                    const std::filesystem::path& cwd,
                                    const std::vector<std::string>& extraEnv, Millis timeout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return errnoStatus("pipe", errno);
  SpawnSpec spec;
  spec.argv = argv;
  if (argv[0].find('/') == std::string::npos) {
    auto found = findOnPath(argv[0]);
    if (!found.ok()) return found.status();
    spec.argv[0] = *found;
  }
  spec.env = extraEnv;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& x : extraEnv) {
      replaced = replaced || (x.size() > name.size() && x.compare(0, name.size(), name) == 0 &&
                              x[name.size()] == '=');
    }
    if (!replaced) spec.env.emplace_back(entry);
  }
  spec.cwd = cwd;
  spec.outputFd = fds[1];
  auto pid = spawnProcess(spec);
  ::close(fds[1]);
  if (!pid.ok()) {
    ::close(fds[0]);
    return pid.status();
  }
  CaptureResult r;
  char buf[65536];
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timedOut = false;
  for (;;) {
    auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    pollfd p{fds[0], POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::clamp<int64_t>(left.count(), 0, 60000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      if (std::chrono::steady_clock::now() < deadline) continue;
      timedOut = true;
      ::kill(-*pid, SIGKILL);  // its own process group: whatever it started goes too
      break;
    }
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r.output.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int st = 0;
  while (waitpid(*pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (timedOut) {
    return Status::Timeout(argv[0] + " did not finish within " + formatDuration(timeout) +
                           " and was stopped");
  }
  r.exitCode = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

}  // namespace boucle::os
