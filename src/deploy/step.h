#pragma once
// One process of a deploy (a step, an ssh command, ansible-playbook), its output streamed into
// the deploy's log as it comes.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"
#include "deploy/deploy_log.h"
#include "os/files.h"

namespace boucle::deploy {

struct StepRun {
  std::vector<std::string> argv;  // argv[0] an absolute path
  std::filesystem::path cwd;
  std::vector<std::string> env;  // exactly these, NAME=value
  int inputFd = -1;              // stdin; /dev/null when -1
  // The script a shell reads as /dev/fd/3 (a sealed memfd, see textAsInput): a step's text,
  // which may hold rendered values, never goes on a command line (/proc/PID/cmdline).
  int scriptFd = -1;
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
  std::string* capture = nullptr;  // also keeps the output here (not masked: never log it)
  bool logOutput = true;           // false: only captured (boucle's own probes)
  int* exitCode = nullptr;         // the exit code, 128+N when killed by signal N
};

// Runs it, its output into `log`. When the timeout passes its whole process group is killed.
// A step may leave a service running (that is what "restart" steps do): once the step's own
// process has exited, what it started is left alone and no longer read from.
// Ok on exit 0; otherwise "exit N", "killed by signal N" or Timeout.
Status runLogged(const StepRun& run, LogSink& log);

// A file descriptor reading `text` (a sealed memfd), for a process's stdin or script: scripts
// with secrets reach a shell this way rather than on a command line other users can see.
Result<int> textAsInput(const std::string& text);

// /bin/sh -e reading `script` from descriptor 3: sets run.argv and run.scriptFd, and returns
// the descriptor to keep open until the process has started.
Result<os::Fd> shellScript(StepRun& run, const std::string& script);

// A sink that keeps nothing (boucle's own probes, run through runLogged for its timeout and
// exact environment).
class NullSink : public LogSink {
 public:
  void say(const std::string&) override {}
  void output(std::string_view) override {}
  void stepStarted(pid_t) override {}
  void stepEnded(pid_t) override {}
};

}  // namespace boucle::deploy
