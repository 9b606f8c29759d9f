#pragma once
// What to watch now: in each project, each environment of its policy that runs a release gets
// that release's monitors (a release's monitors are its own, as its deploy method and smoke
// checks are), rendered with the environment's values, once per host for an ssh or ansible
// environment's monitors that name {{ host.name }} or {{ host.address }}.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "auth/secret_box.h"
#include "monitor/probe.h"
#include "store/store.h"

namespace boucle::monitor {

struct WatchPlan {
  std::vector<Probe> probes;
  // What cannot be watched, and why ("shop/prod: monitor 2: no value 'env.url'").
  std::vector<std::string> problems;
};

// The probes of `monitors` as they run in `env` for `release` (brought there by `deployId`),
// rendered with the environment's values: used for each environment's live release, and for
// a deploy under verification.
void planRelease(const store::Release& release, const std::string& env,
                 const std::vector<store::EnvValue>& values,
                 const std::vector<pipeline::Monitor>& monitors,
                 const std::filesystem::path& dataDir, std::optional<int64_t> deployId,
                 WatchPlan& out);

// Every project's environments that run a release (one under verification included).
// `dataDir` holds the local driver's environments, `sharedDir` the projects' mirrors.
WatchPlan planProbes(store::Store& store, const auth::SecretBox* secrets,
                     const std::filesystem::path& dataDir, const std::filesystem::path& sharedDir);

}  // namespace boucle::monitor
