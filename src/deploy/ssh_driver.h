#pragma once
// The `ssh` driver: the local driver's method on each host of the environment, over the
// system's OpenSSH client (so users' keys, agents and ~/.ssh/config work; an environment's
// `ssh_config` value names another config file). On each host: the release folder
// DIR/releases/VERSION filled with the artifacts (streamed, SHA-256 checked on arrival,
// archives unpacked), config files written, steps run there, DIR/current switched atomically,
// smoke checks run (HTTP and TCP from this machine, commands on the host).
//
// Hosts go `strategy: {rolling: N}` N at a time (the hosts of a batch in parallel), or all at
// once; the first batch with a failed host stops the deploy, and the outcome names the host
// and what failed on it, and which hosts were changed (the ones a rollback must visit).
//
// Every remote command is a script for the remote shell with each value single-quoted; scripts
// that carry the deploy's variables (secrets among them) reach the host on ssh's stdin, never
// on a command line.

#include <filesystem>

#include "deploy/deploy_log.h"
#include "deploy/local_driver.h"
#include "deploy/target.h"

namespace boucle::deploy {

Outcome deploySsh(const Target& t, const std::filesystem::path& blobRoot, DeployLog& log,
                  bool dryRun);

// A migration command of `t`'s release in its folder on the first host (installed there first
// when it is not): migrations change a database the hosts share, so they run once.
Status migrateSsh(const Target& t, const std::string& command,
                  const std::filesystem::path& blobRoot, DeployLog& log);

// A blank environment's release folders (DIR/releases, DIR/current) removed on every host.
Status wipeSsh(const Target& t, DeployLog& log);
// Whether wipeSsh would go ahead (Invalid, saying why not), touching nothing.
Status mayWipeSsh(const Target& t);

}  // namespace boucle::deploy
