#pragma once
// Smoke checks after a deploy: an HTTP answer (status, a word in the body, within a time), a
// TCP port that accepts, or a command that exits 0. Each is tried 1 + retries times, a second
// apart, and the last attempt's result is kept.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "os/process.h"
#include "pipeline/pipeline.h"

namespace boucle::deploy {

struct SmokeResult {
  std::string check;  // "http http://…/health", "tcp host:port", "command ./probe"
  bool ok = false;
  std::string detail;  // what was seen: "HTTP 200 in 12 ms", "connection refused", …
  int64_t ms = 0;
};

// Runs a command check's command somewhere else (on a host, over ssh), ended after `seconds`
// (exit 124 then, as timeout(1) says it).
using CommandRunner =
    std::function<Result<os::CaptureResult>(const std::string& command, int seconds)>;

// `target` is the check's target already rendered; commands run in `cwd` with `env` only, or
// through `remote` when given.
SmokeResult runSmokeCheck(const pipeline::SmokeCheck& check, const std::string& target,
                          const std::filesystem::path& cwd, const std::vector<std::string>& env,
                          const CommandRunner& remote = {});

}  // namespace boucle::deploy
