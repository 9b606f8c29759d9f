// boucle-supervise: the per-job supervisor.
//
//   boucle-supervise GRACE_MS COMMAND [ARG...]
//
// Runs COMMAND in its own process group and makes sure that nothing the job started outlives
// it: the supervisor is a child subreaper, so descendants that double-fork or setsid() are
// re-parented here instead of to init, and when the job ends (or the supervisor is told to
// stop with SIGTERM/SIGINT/SIGHUP, or its parent dies) every descendant gets SIGTERM, then
// SIGKILL after GRACE_MS. It exits with the command's exit code, or 128+N if the command was
// killed by signal N.
//
// It is a separate, statically linked program (not a mode of `boucle`) so that starting it
// costs one small exec per job, and so it never shares a multi-threaded parent's state: no
// signal handlers at all, signals are taken synchronously with sigtimedwait.

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

namespace {

long long nowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

// Every process whose chain of parents leads to us, found by reading /proc: descendants may sit
// in other process groups or sessions, so kill(-pgid) alone would miss them.
std::vector<pid_t> descendants() {
  std::vector<std::pair<pid_t, pid_t>> all;  // (pid, ppid)
  DIR* proc = opendir("/proc");
  if (!proc) return {};
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    char path[64], buf[512];
    std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE* f = std::fopen(path, "re");
    if (!f) continue;
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const char* rp = std::strrchr(buf, ')');  // the command name may contain spaces and ')'
    char state;
    int ppid;
    if (rp && std::sscanf(rp + 1, " %c %d", &state, &ppid) == 2) all.emplace_back(pid, ppid);
  }
  closedir(proc);
  std::vector<pid_t> out{getpid()};
  for (size_t i = 0; i < out.size(); ++i) {
    for (auto [pid, ppid] : all) {
      if (ppid == out[i]) out.push_back(pid);
    }
  }
  out.erase(out.begin());
  return out;
}

void signalAll(pid_t jobGroup, int sig) {
  kill(-jobGroup, sig);
  for (pid_t p : descendants()) kill(p, sig);
}

bool reap(pid_t child, int* status, bool* childDone) {
  for (;;) {
    int st = 0;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p == child) {
      *status = st;
      *childDone = true;
    } else if (p == 0) {
      return false;  // children remain
    } else if (p < 0) {
      return errno == ECHILD;  // true: nothing left at all
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: boucle-supervise GRACE_MS COMMAND [ARG...]\n");
    return 125;
  }
  long long graceMs = std::atoll(argv[1]);
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  sigset_t set, old;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, &old);
  bool terminating = getppid() != parent;  // the parent died before PDEATHSIG was armed

  pid_t child = fork();
  if (child < 0) {
    std::fprintf(stderr, "boucle: cannot start the job: %s\n", std::strerror(errno));
    return 125;
  }
  if (child == 0) {
    setpgid(0, 0);
    // Also reset the real-time signals glibc reserves (32, 33): sigaction() refuses them, so an
    // "ignored" state inherited from whoever started boucle would otherwise reach the job.
    struct KernelSigaction {
      void* handler;
      unsigned long flags;
      void* restorer;
      unsigned long mask;
    } dfl{};
    for (int s = 1; s < 65; ++s) {
      if (s != SIGKILL && s != SIGSTOP) syscall(SYS_rt_sigaction, s, &dfl, nullptr, 8);
    }
    sigprocmask(SIG_SETMASK, &old, nullptr);
    execvp(argv[2], argv + 2);
    std::fprintf(stderr, "boucle: cannot run %s: %s\n", argv[2], std::strerror(errno));
    _exit(127);
  }
  setpgid(child, child);  // also here, so the group exists before any kill(-child)

  int status = 0;
  bool childDone = false;
  bool killed = false;
  long long deadline = 0;
  if (terminating) {
    signalAll(child, SIGTERM);
    deadline = nowMs() + graceMs;
  }
  for (;;) {
    bool empty = reap(child, &status, &childDone);
    if (childDone && empty) break;
    if (childDone && !terminating) {
      // The job's main process is done but left processes behind: end them too.
      terminating = true;
      signalAll(child, SIGTERM);
      deadline = nowMs() + graceMs;
    }
    timespec wait{};
    timespec* waitp = nullptr;
    if (terminating && !killed) {
      long long left = deadline - nowMs();
      if (left <= 0) {
        signalAll(child, SIGKILL);
        killed = true;
        continue;
      }
      wait.tv_sec = left / 1000;
      wait.tv_nsec = (left % 1000) * 1000000;
      waitp = &wait;
    } else if (killed) {
      wait.tv_nsec = 50 * 1000000;  // SIGKILLed stragglers: poll for the last re-parented ones
      waitp = &wait;
      signalAll(child, SIGKILL);
    }
    siginfo_t info;
    int sig = sigtimedwait(&set, &info, waitp);
    if ((sig == SIGTERM || sig == SIGINT || sig == SIGHUP) && !terminating) {
      terminating = true;
      signalAll(child, SIGTERM);
      deadline = nowMs() + graceMs;
    } else if ((sig == SIGTERM || sig == SIGINT) && terminating && !killed) {
      // Asked twice: no more grace.
      deadline = nowMs();
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 125;
}
