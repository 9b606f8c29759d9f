#pragma once
// What a release sets going, in one place for the server's agent (a run that finished) and the
// API (a release someone asked for): the release is made (a prerelease when its run is not of a
// release branch), then the environments the policy makes automatic get it.

#include <filesystem>
#include <string>

#include "core/status.h"
#include "deploy/deployer.h"
#include "store/store.h"
#include "vault/releaser.h"

namespace boucle::deploy {

class ReleaseFlow {
 public:
  // Releases are made from the deployer's mirrors and blobs.
  ReleaseFlow(store::Store& store, Deployer& deployer) : store_(store), deployer_(deployer) {}

  // A passing run of the whole pipeline, of a branch the policy's `release.branches` names:
  // released by "boucle", then deployed where the policy says `auto`. Anything else: nothing.
  void runFinished(const store::Run& run);
  // A release asked for by `request.actor`, then the same automatic deploys in their name.
  Result<store::Release> release(const vault::ReleaseRequest& request);

 private:
  store::Store& store_;
  Deployer& deployer_;
};

}  // namespace boucle::deploy
