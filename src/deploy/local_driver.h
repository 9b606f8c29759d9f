#pragma once
// The `local` driver (and the `command` driver, which is the same with its command run as the
// last step: `kubectl apply -f .`, a deploy script): a release is installed into
// DIR/releases/VERSION (artifacts copied with their SHA-256 checked, .tar.gz/.tgz unpacked), its
// config files rendered, its steps run there, then DIR/current is switched to it atomically (a new
// symlink renamed over the old one), and the smoke checks run. Older release folders are kept, so a
// rollback is a switch back.

#include <filesystem>
#include <string>
#include <vector>

#include "deploy/deploy_log.h"
#include "deploy/smoke.h"
#include "deploy/target.h"

namespace boucle::deploy {

struct Outcome {
  bool ok = false;
  std::string failure;  // which host, step or check failed, and how
  std::vector<SmokeResult> smoke;
  // Hosts where something changed (steps ran, `current` switched): what a rollback must visit.
  std::vector<std::string> touched;
  bool migrated = false;  // the release's `migrate.up` ran to its end
};

// Installs (unless the release folder is already there), renders, runs the steps, switches
// and checks. `blobRoot`: where artifacts are stored by hash.
Outcome deployLocal(const Target& t, const std::filesystem::path& blobRoot, DeployLog& log,
                    bool dryRun);

// A migration command of `t`'s release (a `down` when going back) in its release folder,
// installed there first when it is not (a blank environment, a folder removed by hand).
Status migrateLocal(const Target& t, const std::string& command,
                    const std::filesystem::path& blobRoot, DeployLog& log);

// A blank environment's folder emptied before a deploy. Refused for a folder that is not one
// a deploy should own: one near the root ("/", "/srv"), one holding the home folder or a
// `keep` folder (the server's data and shared folders), one inside those but outside their
// environments/, or one that is not empty and holds no releases/ folder.
Status wipeLocal(const Target& t, const std::vector<std::filesystem::path>& keep, DeployLog& log);
// Whether wipeLocal would go ahead (Invalid, saying why not), touching nothing.
Status mayWipeLocal(const Target& t, const std::vector<std::filesystem::path>& keep);

// Smoke checks of one place, from this machine; `cwd` for command checks.
std::vector<SmokeResult> runSmoke(const Target& t, const Plan& plan,
                                  const std::filesystem::path& cwd, LogSink& log, bool* allOk);

// The first failed check of `results`, as a failure message ("" when all passed).
std::string smokeFailure(const std::vector<SmokeResult>& results);

}  // namespace boucle::deploy
