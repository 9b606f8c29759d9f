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
  std::vector<std::string> env;  // "NAME=value": the job's, set inside after --clearenv
  bool network = true;
  // Host folders bound writable into the sandbox: (host path, path inside).
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> binds;
  // Folders covered by an empty tmpfs even when they lie under a folder the sandbox shows
  // (the server's data folder, its user's home).
  std::vector<std::filesystem::path> hidden;
  std::vector<std::string> command;
};

// Finds bwrap on PATH; a clear error naming the package when it is missing.
Result<std::string> findBubblewrap();

// The arguments after bwrap's own path (the job's environment among them, as --setenv pairs).
// They go to bwrap through a descriptor (--args FD), never on its command line, where secrets
// would show in /proc/PID/cmdline; bwrap itself starts with a fixed environment, so nothing of
// the job's (LD_PRELOAD, LD_LIBRARY_PATH) can reach the loader of bwrap, which runs outside the
// sandbox.
std::vector<std::string> sandboxArgv(const std::string& bwrap, const SandboxSpec& spec);
// sandboxArgv split for --args: bwrap reads its options (up to "--"), each followed by a NUL,
// from descriptor 3, and the command stays on its command line (bwrap takes the command only
// from there; it is the job's script, which holds no secret). Invalid when an option holds a
// NUL, which would split it into options of the job's choosing.
struct BwrapLaunch {
  std::vector<std::string> commandLine;  // bwrap --args 3 -- COMMAND…
  std::string options;                   // what bwrap reads from descriptor 3
};
Result<BwrapLaunch> throughArgsDescriptor(const std::vector<std::string>& argv);

// Entries under `root` that "others" may not read (ssh host keys, /etc/shadow, TLS private
// keys…): the sandbox covers them, so a job run by root sees no more of /etc, /usr and /opt
// than any user would. Read on first use and kept (a few milliseconds for /etc, a second or
// more for /usr), less those gone since.
std::vector<std::pair<std::string, bool>> unreadableEntries(const std::string& root);
// Reads them again for /etc, /usr and /opt (a server does it beside its start, not in its
// first job's way, and then every few minutes, so that new ones are covered too).
void prewarmSandbox();

// Home directory inside the sandbox.
inline constexpr const char* kSandboxHome = "/home/boucle";

}  // namespace boucle::runner
