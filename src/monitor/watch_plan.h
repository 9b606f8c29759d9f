#pragma once
// What to watch now: in each project, each environment of its policy that runs a release gets
// that release's monitors (a release's monitors are its own, as its deploy method and smoke
// checks are), rendered with the environment's values, once per host for an ssh or ansible
// environment's monitors that name {{ host.name }} or {{ host.address }}.

#include <filesystem>
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

WatchPlan planProbes(store::Store& store, const auth::SecretBox* secrets,
                     const std::filesystem::path& dataDir);

}  // namespace boucle::monitor
