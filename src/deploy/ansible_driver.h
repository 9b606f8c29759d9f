#pragma once
// The `ansible` driver: the system's `ansible-playbook` runs the release's own playbook (read
// from the release's commit) against an inventory generated from the environment's hosts, with
// the release and the environment as extra variables:
//   release_version, release_commit, release_dir (when the environment has a `dir`),
//   boucle_project, boucle_environment, boucle_env (every value: {{ boucle_env.port }}),
//   boucle_artifacts (artifact name → the checked file on this machine, for copy/unarchive).
// Values named ansible_* become inventory variables (ansible_user, ansible_python_interpreter,
// …) and `ssh_config` is passed to Ansible's ssh as -F. A host named `localhost` runs with the
// local connection. `strategy: {rolling: N}` runs the playbook once per batch of N hosts
// (--limit), stopping at the first failed batch; smoke checks follow each batch (HTTP and TCP
// from this machine, commands in the playbook's checkout here).

#include <filesystem>

#include "deploy/deploy_log.h"
#include "deploy/local_driver.h"
#include "deploy/target.h"

namespace boucle::deploy {

// `workRoot`: where a private working folder is made (and removed) for each run.
Outcome deployAnsible(const Target& t, const std::filesystem::path& blobRoot,
                      const std::filesystem::path& workRoot, DeployLog& log, bool dryRun);

}  // namespace boucle::deploy
