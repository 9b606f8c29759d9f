#pragma once
// A deploy's verification: after its smoke checks pass, an environment with `verify: {for}`
// has the release's monitors and the environment's own checks watched for that long, and a
// failure rolls back as a failed smoke check does. The deployer only asks; the monitors'
// part (monitor/verification.h) does the watching.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "deploy/deploy_log.h"
#include "pipeline/pipeline.h"
#include "store/store.h"

namespace boucle::deploy {

struct VerifyJob {
  const store::Deploy& deploy;
  const store::Release& release;
  const pipeline::Environment::Verify& spec;  // from the policy, never from the release
  const std::vector<store::EnvValue>& values;
  LogSink& log;
  std::function<bool()> stopping;  // true once the server stops
  // The evidence so far (the `verification` JSON), every few seconds while it watches.
  std::function<void(const std::string& json)> progress;
};

struct Verification {
  enum class End { kPassed, kFailed, kInterrupted };
  End end = End::kFailed;
  std::string failure;  // what failed and what it saw, one line ("" when it passed)
  std::string json;     // the evidence, stored with the deploy
};

using Verifier = std::function<Verification(const VerifyJob&)>;

}  // namespace boucle::deploy
