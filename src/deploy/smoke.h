#pragma once
// Smoke checks after a deploy: an HTTP answer (status, a word in the body, within a time), a
// TCP port that accepts, or a command that exits 0. Each is tried 1 + retries times, a second
// apart, and the last attempt's result is kept.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"

namespace boucle::deploy {

struct SmokeResult {
  std::string check;  // "http http://…/health", "tcp host:port", "command ./probe"
  bool ok = false;
  std::string detail;  // what was seen: "HTTP 200 in 12 ms", "connection refused", …
  int64_t ms = 0;
};

// `target` is the check's target already rendered; commands run in `cwd` with `env` only.
SmokeResult runSmokeCheck(const pipeline::SmokeCheck& check, const std::string& target,
                          const std::filesystem::path& cwd, const std::vector<std::string>& env);

}  // namespace boucle::deploy
