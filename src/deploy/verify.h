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

// Whether `d` is being verified now: deployed, its smoke checks passed, its `verification`
// still running (not one that failed and is being rolled back). The evidence is compact JSON
// whose strings escape their quotes, so this key can only be its state.
inline bool underVerification(const store::Deploy& d) {
  return d.state == store::DeployState::kRunning && !d.dryRun &&
         d.verifyJson.find(R"("state":"running")") != std::string::npos;
}

}  // namespace boucle::deploy
