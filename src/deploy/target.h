#pragma once
// One release made ready for one environment: its deploy method and everything rendered with
// the environment's values — config files, steps, smoke targets, for this machine or for each
// host. Built before anything is touched, so that a missing value stops the deploy first.

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "auth/secret_box.h"
#include "core/status.h"
#include "deploy/template.h"
#include "pipeline/pipeline.h"
#include "store/store.h"

namespace boucle::deploy {

// What one place (this machine, or one host) gets.
struct Plan {
  std::vector<std::pair<std::string, std::string>> configFiles;  // (to, content)
  std::vector<std::string> steps;
  std::vector<std::string> smokeTargets;  // one per smoke check
};

// A host of the environment, as its `hosts` value names it: [user@]address[:port].
struct Host {
  std::string name;     // as written
  std::string user;     // "" → ssh's own choice (ssh config, or the local user)
  std::string address;  // a name or an IP address
  int port = 0;         // 0 → ssh's own choice
  Plan plan;            // rendered with {{ host.name }} / {{ host.address }}
};

// `text`: hosts separated by spaces, commas or new lines. Invalid names a bad entry (one that
// could be read as an ssh option, an empty part, a port out of range).
Result<std::vector<Host>> parseHosts(const std::string& text);

// The variable an environment's value reaches a step (or a measuring job) as: BOUCLE_ENV_KEY,
// upper-cased, what is not a letter or digit an underscore.
std::string envVariable(const std::string& key);

struct Target {
  store::Release release;
  std::string env;
  pipeline::DeploySpec spec;
  TemplateValues values;             // env.KEY, release.version, release.dir, …
  std::vector<std::string> environ;  // steps' and smoke commands' environment, NAME=value
  std::vector<std::string> secrets;  // values masked in the log
  std::filesystem::path dir;         // the environment's `dir` (on each host, for ssh)
  std::filesystem::path mirror;      // the project's repository (the playbook's source)
  Plan plan;                         // local and command drivers
  std::vector<Host> hosts;           // ssh and ansible drivers
  // The release's migration, run once per deploy after it is installed and before its steps
  // (here, or on the first host): set by the deployer when the deploy moves forward.
  std::string migrateUp;
  // Called as soon as migrateUp has ended well: the migration is then applied, whatever
  // happens to the deploy after.
  std::function<void()> onMigrated;
};

// The release's deploy method and the environment's values (values, environ, secrets, dir),
// nothing read from the repository or rendered yet: what monitors need.
Result<Target> describeTarget(const store::Release& release, const std::string& env,
                              const std::vector<store::EnvValue>& values,
                              const std::filesystem::path& workRoot);

// The environment's values with its secrets opened.
Result<std::vector<store::EnvValue>> unsealedValues(store::Store& store,
                                                    const auth::SecretBox* secrets,
                                                    const std::string& project,
                                                    const std::string& env);

// `mirror`: the project's repository, where config templates are read at the release's
// commit. `workRoot`: where the command driver keeps an environment's releases when the
// environment has no `dir` value (DATA/environments).
Result<Target> prepareTarget(const store::Release& release, const std::string& env,
                             const std::vector<store::EnvValue>& values,
                             const std::filesystem::path& mirror,
                             const std::filesystem::path& workRoot);

// The order a remote driver visits the hosts in: batches of `strategy: {rolling: N}` hosts, or
// one batch of them all; and that order in words ("3 host(s), rolling, 1 at a time").
using Batch = std::vector<const Host*>;
std::vector<Batch> batchesOf(const Target& t);
std::string describeBatches(const Target& t);
std::string namesOf(const Batch& hosts);  // "web1, web2"

// The environment variables that describe the deploy (BOUCLE_*), without the server's own.
std::vector<std::string> deployVariables(const Target& t);

}  // namespace boucle::deploy
