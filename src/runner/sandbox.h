#pragma once
// The bubblewrap command line for `isolation: sandbox`: the job sees a read-only system
// (/usr, /etc), fresh private /tmp and home, its own workspace writable at the same path, and
// nothing else of the host's files — in particular not the invoking user's home.

#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"

namespace boucle::runner {

struct SandboxSpec {
  std::filesystem::path workspace;
  std::vector<std::string> env;  // "NAME=value", set inside after --clearenv
  bool network = true;
  std::vector<std::string> command;
};

// Finds bwrap on PATH; a clear error naming the package when it is missing.
Result<std::string> findBubblewrap();

std::vector<std::string> sandboxArgv(const std::string& bwrap, const SandboxSpec& spec);

// Home directory inside the sandbox.
inline constexpr const char* kSandboxHome = "/home/boucle";

}  // namespace boucle::runner
