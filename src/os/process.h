#pragma once
// Starting processes: in a process group of their own, with exactly the environment and
// descriptors given (jobs go through boucle-supervise, runner/supervisor_main.cc), and short
// helper commands (git, tar) run to completion with a deadline.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/status.h"

namespace boucle::os {

struct SpawnSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value"; nothing else is inherited
  std::filesystem::path cwd;
  int outputFd = -1;  // receives both stdout and stderr
  int inputFd = -1;   // stdin; /dev/null when not given
  int fd3 = -1;       // passed on as descriptor 3 (the supervisor's socket)
};

// Starts a process in a new process group, with default signal dispositions, an empty signal
// mask, stdin on /dev/null (unless given) and no descriptor of ours beyond 0-2 (and 3 if asked).
// Returns its pid.
Result<pid_t> spawnProcess(const SpawnSpec& spec);

// The first executable `name` on $PATH (or /usr/bin:/bin when PATH is unset).
Result<std::string> findOnPath(std::string_view name);

// A pipe with both ends close-on-exec and a large buffer, so a chatty job rarely blocks.
Status makeOutputPipe(int fds[2]);

}  // namespace boucle::os

namespace boucle::os {

struct CaptureResult {
  int exitCode = -1;   // 128+N when killed by signal N
  std::string output;  // stdout and stderr together
};

// Runs a short helper command (git, tar) to completion and returns its output. The helper
// inherits our environment; it is never given a shell, so arguments are passed as they are.
// `extraEnv` ("NAME=value") is added to this process's environment, replacing same names.
// A helper still running after `timeout` (a stalled remote) is killed with its process group:
// Timeout, and the worker and locks it held are free again.
Result<CaptureResult> runAndCapture(const std::vector<std::string>& argv,
                                    const std::filesystem::path& cwd = {},
                                    const std::vector<std::string>& extraEnv = {},
                                    Millis timeout = std::chrono::minutes(10));

}  // namespace boucle::os
