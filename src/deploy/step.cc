#include "deploy/step.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "os/files.h"
#include "os/process.h"

namespace boucle::deploy {

Status runLogged(const StepRun& run, LogSink& log) {
  int fds[2];
  if (auto st = os::makeOutputPipe(fds); !st.ok()) return st;
  os::Fd readEnd(fds[0]), writeEnd(fds[1]);
  os::SpawnSpec spec;
  spec.argv = run.argv;
  spec.env = run.env;
  spec.cwd = run.cwd;
  spec.outputFd = writeEnd.get();
  spec.inputFd = run.inputFd;
  spec.fd3 = run.scriptFd;
  auto pid = os::spawnProcess(spec);
  writeEnd.reset();
  if (!pid.ok()) return pid.status();
  log.stepStarted(*pid);
  auto deadline = std::chrono::steady_clock::now() + run.timeout;
  char buf[16384];
  auto take = [&](ssize_t got) {
    std::string_view bytes(buf, static_cast<size_t>(got));
    if (run.logOutput) log.output(bytes);
    if (run.capture) run.capture->append(bytes);
  };
  // The pipe and the process itself (a pidfd) in one poll: its exit is seen at once, even when
  // something it started keeps the pipe open, and a quiet command costs no polling interval.
  os::Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, *pid, 0)));
  int status = 0;
  bool exited = false, timedOut = false, eof = false;
  while (!exited) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    int wait = timedOut ? 100 : static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1000));
    if (pidfd.get() < 0) wait = std::min(wait, 20);  // no pidfd (old kernel): poll the pid
    pollfd p[2] = {{eof ? -1 : readEnd.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    if (::poll(p, 2, wait) > 0 && (p[0].revents & (POLLIN | POLLHUP))) {
      ssize_t got = ::read(readEnd.get(), buf, sizeof buf);
      if (got > 0) take(got);
      if (got == 0) eof = true;
    }
    pid_t w = ::waitpid(*pid, &status, WNOHANG);
    exited = w == *pid;
    if (!exited && !timedOut && std::chrono::steady_clock::now() >= deadline) {
      timedOut = true;
      ::kill(-*pid, SIGKILL);
    }
  }
  log.stepEnded(*pid);
  // What it printed just before it ended.
  for (pollfd p{readEnd.get(), POLLIN, 0}; !eof && ::poll(&p, 1, 0) > 0;) {
    ssize_t got = ::read(readEnd.get(), buf, sizeof buf);
    if (got <= 0) break;
    take(got);
  }
  if (run.exitCode) {
    *run.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  if (timedOut) return Status::Timeout("did not finish within the deploy's timeout");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  return Status::Io(WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                      : "killed by signal " + std::to_string(WTERMSIG(status)));
}

Result<int> textAsInput(const std::string& text) {
  auto fd = os::sealedText(text);
  if (!fd.ok()) return fd.status();
  return fd->release();
}

Result<os::Fd> shellScript(StepRun& run, const std::string& script) {
  auto fd = textAsInput(script);
  if (!fd.ok()) return fd.status();
  run.argv = {"/bin/sh", "-e", "/dev/fd/3"};
  run.scriptFd = *fd;
  return os::Fd(*fd);
}

}  // namespace boucle::deploy
