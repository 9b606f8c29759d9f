#pragma once
// The bubblewrap command line for sandboxed jobs (`isolation: sandbox`, and every job the
// server runs unless its project allows `process`). The job sees a read-only system (/usr,
// /etc without what an ordinary user of the machine could not read), fresh private /tmp and
// home, its own workspace writable at the same path, its project's cache folders, and nothing
// else of the host's files: not the server's data folder, not the invoking user's home, not
// another job's workspace. It runs in its own pid namespace, so when the sandbox's first
// process ends (or is killed) every process of the job ends with it.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace boucle::runner {

struct SandboxSpec {
  std::filesystem::path workspace;
  bool network = true;
  // Host folders bound writable into the sandbox: (host path, path inside).
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> binds;
  // Folders covered by an empty tmpfs even when they lie under a folder the sandbox shows
  // (the server's data folder, its user's home).
  std::vector<std::filesystem::path> hidden;
  std::vector<std::string> command;
};

// The job's environment is bwrap's own (it passes it on): given on the command line, secrets
// would show in /proc/PID/cmdline.

// Finds bwrap on PATH; a clear error naming the package when it is missing.
Result<std::string> findBubblewrap();

std::vector<std::string> sandboxArgv(const std::string& bwrap, const SandboxSpec& spec);

// Entries under `root` that "others" may not read (ssh host keys, /etc/shadow, TLS private
// keys…): the sandbox covers them, so a job run by root sees no more of /etc than any user
// would. Read once per process and kept (a few milliseconds for /etc).
const std::vector<std::pair<std::string, bool>>& unreadableEntries(const std::string& root);

// Home directory inside the sandbox.
inline constexpr const char* kSandboxHome = "/home/boucle";

}  // namespace boucle::runner
