#pragma once
// Watches a deploy under verification: its release's monitors and the environment's `verify`
// checks, rendered with the environment's values, run by a prober of their own for the
// verification's length. It fails as soon as one of them gives `fail_after` verdicts in a row
// that are not passes (no_data is not a pass), at the end when one never passed, and at once
// when there is nothing to watch: an environment that asks for verification never lets a
// release through unverified.
//
// The evidence (JSON, stored as the deploy's `verification`):
//   {"state": "running"|"passed"|"failed"|"interrupted", "for_ms", "started_at_ms",
//    "ended_at_ms", "failure",
//    "probes": [{"name", "host", "kind", "source": "monitor"|"check", "fail_after",
//                "passes", "failures", "no_data", "failed",
//                "last": {"verdict", "at_ms", "latency_ms", "detail"},
//                "evidence": [{"verdict", "at_ms", "latency_ms", "detail"}]}]}
// where `evidence` holds the last `fail_after` verdicts that were not passes.

#include <filesystem>

#include "deploy/verify.h"

namespace boucle::monitor {

deploy::Verification verifyDeploy(const deploy::VerifyJob& job,
                                  const std::filesystem::path& dataDir);

}  // namespace boucle::monitor
