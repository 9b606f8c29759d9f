// boucle-supervise: the job supervisor, started by the engine with a socket on fd 3 (see
// supervisor_protocol.h). It runs the jobs it is given one at a time and makes sure nothing a
// job started outlives it: the supervisor is a child subreaper, so descendants that
// double-fork or setsid() are re-parented here instead of to init; when the job's main process
// ends, or the engine asks (or goes away), every remaining descendant gets SIGTERM, then
// SIGKILL after the job's grace period. Only then does it report the job's exit.
//
// It is a separate, statically linked, single-threaded program with no signal handlers
// (signals are read from a signalfd), so that it never shares a multi-threaded parent's state,
// and it is reused from job to job so that a job costs one process creation, not two.

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "runner/supervisor_protocol.h"

namespace {

using namespace boucle::runner;

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
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
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

struct Job {
  pid_t pid = -1;
  long long graceMs = 0;
  bool mainDone = false;
  int status = 0;
  bool terminating = false;
  bool killed = false;
  long long deadline = 0;
};

void signalAll(const Job& job, int sig) {
  kill(-job.pid, sig);
  for (pid_t p : descendants()) kill(p, sig);
}

void terminate(Job& job) {
  if (!job.terminating) {
    job.terminating = true;
    job.deadline = nowMs() + job.graceMs;
    signalAll(job, SIGTERM);
  } else {
    job.deadline = nowMs();  // asked twice: no more grace
  }
}

// Reaps what has exited; true when no child at all is left.
bool reap(Job& job) {
  for (;;) {
    int st = 0;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p == job.pid) {
      job.status = st;
      job.mainDone = true;
    } else if (p == 0) {
      return false;
    } else if (p < 0) {
      return errno == ECHILD;
    }
  }
}

// Starts the job. vfork: the child borrows our memory until it execs, so there is no page
// table copy and no separate stack to map and unmap. The child only makes system calls.
pid_t startJob(const std::string& cwd, std::vector<std::string>& argv,
               std::vector<std::string>& env, int outFd, int inFd, int extraFd, int cgroupProcs,
               int* err) {
  std::vector<char*> a, e;
  for (auto& s : argv) a.push_back(s.data());
  a.push_back(nullptr);
  for (auto& s : env) e.push_back(s.data());
  e.push_back(nullptr);
  int errPipe[2];
  if (pipe2(errPipe, O_CLOEXEC) != 0) {
    *err = errno;
    return -1;
  }
  // Above 3, where the job's extra descriptor goes.
  if (errPipe[1] <= 3) {
    int above = fcntl(errPipe[1], F_DUPFD_CLOEXEC, 4);
    close(errPipe[1]);
    if (above < 0) {
      *err = errno;
      close(errPipe[0]);
      return -1;
    }
    errPipe[1] = above;
  }
  sigset_t none;
  sigemptyset(&none);
  pid_t pid = vfork();
  if (pid == 0) {
    // Into the job's cgroup before anything of the job runs: all it starts stays there.
    if (cgroupProcs >= 0 && write(cgroupProcs, "0", 1) != 1) {
      int e2 = errno;
      [[maybe_unused]] ssize_t w = write(errPipe[1], &e2, sizeof e2);
      _exit(127);
    }
    setpgid(0, 0);
    dup2(inFd, 0);
    dup2(outFd, 1);
    dup2(outFd, 2);
    if (extraFd == 3) {
      fcntl(3, F_SETFD, 0);  // dup2 onto itself would keep close-on-exec
    } else if (extraFd >= 0) {
      dup2(extraFd, 3);
    }
    if (chdir(cwd.c_str()) != 0) {
      int e2 = errno;
      [[maybe_unused]] ssize_t w = write(errPipe[1], &e2, sizeof e2);
      _exit(127);
    }
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, 8);
    // Nothing of ours beyond 0-2 (and 3, the extra descriptor), except the error pipe, which
    // close-on-exec shuts on success.
    unsigned first = extraFd >= 0 ? 4 : 3;
    if (static_cast<unsigned>(errPipe[1]) > first)
      syscall(SYS_close_range, first, errPipe[1] - 1, 0);
    syscall(SYS_close_range, errPipe[1] + 1, ~0U, 0);
    execve(a[0], a.data(), e.data());
    int e2 = errno;
    [[maybe_unused]] ssize_t w = write(errPipe[1], &e2, sizeof e2);
    _exit(127);
  }
  close(errPipe[1]);
  if (pid < 0) {
    *err = errno;
    close(errPipe[0]);
    return -1;
  }
  setpgid(pid, pid);
  int childErr = 0;
  ssize_t n = read(errPipe[0], &childErr, sizeof childErr);
  close(errPipe[0]);
  if (n == sizeof childErr) {
    waitpid(pid, nullptr, 0);
    *err = childErr;
    return -1;
  }
  return pid;
}

bool reply(const wire::Writer& w) {
  return wire::sendFrame(wire::kSupervisorFd, w.payload());
}

// Handles one 'R' request; returns false if the request was malformed.
bool handleRun(const std::string& frame, int outFd, int inFd, int devNull, Job& job) {
  job = Job{};
  wire::Reader r(frame);
  uint32_t grace = 0, argc = 0, envc = 0;
  std::string cwd;
  std::vector<std::string> argv, env;
  bool ok = r.u32(grace) && r.str(cwd) && r.u32(argc);
  for (uint32_t i = 0; ok && i < argc; ++i) ok = r.str(argv.emplace_back());
  ok = ok && r.u32(envc);
  for (uint32_t i = 0; ok && i < envc; ++i) ok = r.str(env.emplace_back());
  std::string cgroup;
  ok = ok && r.str(cgroup);
  if (!ok || argv.empty() || outFd < 0) {
    if (outFd >= 0) close(outFd);
    if (inFd >= 0) close(inFd);
    return false;
  }
  int err = 0;
  int procs = -1;
  if (!cgroup.empty()) {
    procs = open((cgroup + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (procs < 0) {
      close(outFd);
      if (inFd >= 0) close(inFd);
      reply(wire::Writer('E').str("cannot use the job's cgroup " + cgroup + ": " +
                                  std::strerror(errno)));
      return true;
    }
  }
  pid_t pid = startJob(cwd, argv, env, outFd, devNull, inFd, procs, &err);
  if (procs >= 0) close(procs);
  close(outFd);
  if (inFd >= 0) close(inFd);
  if (pid < 0) {
    std::string msg = "cannot run " + argv[0] + ": " + std::strerror(err);
    if (err == ENOENT && !cwd.empty() && access(cwd.c_str(), F_OK) != 0) {
      msg = "cannot enter " + cwd + ": " + std::strerror(err);
    }
    reply(wire::Writer('E').str(msg));
    return true;
  }
  job.pid = pid;
  job.graceMs = grace;
  reply(wire::Writer('S').i32(pid));
  return true;
}

// Default dispositions for every signal, including the real-time ones glibc reserves
// (sigaction() refuses 32 and 33, so an "ignored" state inherited from whoever started boucle
// would otherwise reach the jobs). Done once: we never set a handler, so every job inherits
// these through vfork and exec.
void defaultSignals() {
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    unsigned long mask;
  } dfl{};
  for (int s = 1; s < 65; ++s) {
    if (s != SIGKILL && s != SIGSTOP) syscall(SYS_rt_sigaction, s, &dfl, nullptr, 8);
  }
}

}  // namespace

int main() {
  pid_t parent = getppid();
  defaultSignals();
  // Every job's stdin, opened once.
  int devNull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devNull >= 0 && devNull < 3) {  // started without a stdin: dup2 onto 0 would keep CLOEXEC
    int above = fcntl(devNull, F_DUPFD_CLOEXEC, 3);
    close(devNull);
    devNull = above;
  }
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0 || fcntl(wire::kSupervisorFd, F_GETFD) < 0) {
    std::fprintf(stderr, "boucle-supervise is started by boucle, not by hand\n");
    return 2;
  }
  if (!reply(wire::Writer('H').u32(wire::kProtocolVersion))) return 1;
  bool engineGone = getppid() != parent;
  Job job;
  bool running = false;

  for (;;) {
    if (running) {
      bool empty = reap(job);
      if (job.mainDone && empty) {
        running = false;
        if (!reply(wire::Writer('X').i32(job.status))) engineGone = true;
      } else if (job.mainDone && !job.terminating) {
        terminate(job);  // the main process is done but left processes behind: end them too
      } else if (job.terminating && !job.killed && nowMs() >= job.deadline) {
        signalAll(job, SIGKILL);
        job.killed = true;
      } else if (job.killed) {
        signalAll(job, SIGKILL);  // stragglers re-parented to us since the last round
      }
    }
    if (engineGone) {
      if (!running) return 0;
      if (!job.terminating) terminate(job);
    }
    if (!running && engineGone) return 0;

    int timeout = -1;
    if (running && job.killed)
      timeout = 50;
    else if (running && job.terminating)
      timeout = static_cast<int>(std::max(0LL, job.deadline - nowMs()));
    pollfd fds[2] = {{sigfd, POLLIN, 0}, {wire::kSupervisorFd, POLLIN, 0}};
    int nfds = engineGone ? 1 : 2;
    if (poll(fds, nfds, timeout) < 0 && errno != EINTR) return 1;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si;
      while (read(sigfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo != SIGCHLD) engineGone = true;  // PDEATHSIG or told to stop
      }
    }
    if (nfds == 2 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      std::string frame;
      int fd = -1, fd2 = -1;
      if (!wire::recvFrame(wire::kSupervisorFd, frame, &fd, &fd2)) {
        engineGone = true;
        continue;
      }
      if (frame[0] == 'T' && running) {
        terminate(job);
      } else if (frame[0] == 'R' && !running) {
        if (!handleRun(frame, fd, fd2, devNull, job))
          return 3;  // protocol error: the engine is confused
        running = job.pid > 0;
      } else {
        if (fd >= 0) close(fd);
        if (fd2 >= 0) close(fd2);
      }
    }
  }
}
