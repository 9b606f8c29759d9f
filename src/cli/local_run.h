#pragma once
// `boucle run`: the pipeline of the repository in the current directory, on this machine,
// through the same engine the server uses.

#include <string>
#include <utility>
#include <vector>

#include "core/duration.h"

namespace boucle::cli {

struct LocalRunOptions {
  std::vector<std::string> jobs;  // empty: all; else these and what they need
  std::string file;               // pipeline file; empty: .boucle.yml of the snapshot
  std::string data;               // state directory; empty: $XDG_STATE_HOME/boucle
  std::string branch;             // override for only/except
  size_t parallelism = 0;         // 0: number of cores
  bool workingTree = false;       // --dirty
  bool keepWorkspaces = false;
  bool json = false;
  bool quiet = false;
  Millis killGrace = std::chrono::seconds(10);
  std::vector<std::string> secretArgs;      // NAME=VALUE or NAME (value from our environment)
  std::vector<std::string> secretFileArgs;  // NAME=PATH
};

int runLocal(const LocalRunOptions& options);

}  // namespace boucle::cli
