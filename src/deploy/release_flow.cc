#include "deploy/release_flow.h"

#include "core/glob.h"
#include "core/log.h"
#include "deploy/policy.h"
#include "scm/git_repo.h"

namespace boucle::deploy {

Result<store::Release> ReleaseFlow::release(const vault::ReleaseRequest& request) {
  auto rel =
      vault::createRelease(store_, scm::mirrorPath(deployer_.options().shared(), request.project),
                           deployer_.options().shared() / "blobs", request);
  if (!rel.ok()) return rel;
  logInfo("released " + rel->project + " " + rel->version + " from run " +
          std::to_string(rel->runId) + (rel->prerelease ? " (a prerelease)" : ""));
  deployer_.releaseCreated(*rel, request.actor);
  return rel;
}

void ReleaseFlow::runFinished(const store::Run& run) {
  if (run.state != store::RunState::kPassed || !run.onlyJobs.empty() || run.bisectOf ||
      run.branch.empty() || run.isRequest()) {
    return;
  }
  // Which branches release by themselves is the policy's word, not the run's own file.
  auto policy =
      loadPolicy(store_, run.project, scm::mirrorPath(deployer_.options().shared(), run.project));
  if (!policy.ok() || !policy->pipeline.release) return;
  bool automatic = false;
  for (const auto& b : policy->pipeline.release->branches)
    automatic |= branchMatches(b, run.branch);
  if (!automatic) return;
  auto rel = release({run.project, run.id, "", "boucle"});
  if (!rel.ok()) {
    logError("release of run " + std::to_string(run.id) + ": " + rel.status().message());
  }
}

}  // namespace boucle::deploy
