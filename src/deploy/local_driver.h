#pragma once
// The `local` driver (and the `command` driver, which is the same with its command run as the
// last step: `kubectl apply -f .`, a deploy script): a release is installed into
// DIR/releases/VERSION (artifacts copied with their SHA-256 checked, .tar.gz/.tgz unpacked), its
// config files rendered, its steps run there, then DIR/current is switched to it atomically (a new
// symlink renamed over the old one), and the smoke checks run. Older release folders are kept, so a
// rollback is a switch back.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "deploy/smoke.h"
#include "deploy/template.h"
#include "pipeline/pipeline.h"
#include "runner/masker.h"
#include "store/store.h"

namespace boucle::deploy {

// One release made ready for one environment: its deploy method and the values it is
// rendered with. Built before anything is touched, so a missing value stops the deploy first.
struct Target {
  store::Release release;
  std::string env;
  pipeline::DeploySpec spec;
  TemplateValues values;             // env.KEY, release.version, release.dir, …
  std::vector<std::string> environ;  // steps' and smoke commands' environment, NAME=value
  std::vector<std::string> secrets;  // values masked in the log
  std::filesystem::path dir;         // the environment's `dir`
  // Rendered: config files (template path in the repository → file), steps, smoke targets.
  std::vector<std::pair<std::string, std::string>> configFiles;  // (to, content)
  std::vector<std::string> steps;
  std::vector<std::string> smokeTargets;
};

// A deploy's log file; secrets are masked before anything is written.
class DeployLog {
 public:
  DeployLog(const std::filesystem::path& file, const std::vector<std::string>& secrets);
  ~DeployLog();
  void say(const std::string& line);    // "boucle: …" lines
  void output(std::string_view bytes);  // a step's output
  void flush();
  // While a step runs, its process (group leader) and start time are kept beside the log, so
  // that a server killed mid-step can end the step's processes at its restart.
  void stepStarted(pid_t pid);
  void stepEnded();

 private:
  std::filesystem::path stepFile_;
  int fd_ = -1;
  std::vector<std::string> secrets_;
  runner::Masker masker_;
};

struct Outcome {
  bool ok = false;
  std::string failure;  // which step or check failed, and how
  std::vector<SmokeResult> smoke;
};

// `mirror`: the project's repository, where config templates are read at the release's
// commit. `workRoot`: where the command driver keeps an environment's releases when the
// environment has no `dir` value (DATA/environments).
Result<Target> prepareTarget(const store::Release& release, const std::string& env,
                             const std::vector<store::EnvValue>& values,
                             const std::filesystem::path& mirror,
                             const std::filesystem::path& workRoot);

// Installs (unless the release folder is already there), renders, runs the steps, switches
// and checks. `blobRoot`: where artifacts are stored by hash.
Outcome deployLocal(const Target& t, const std::filesystem::path& blobRoot, DeployLog& log,
                    bool dryRun);

// After a crash: ends the processes of the step that was running for the deploy whose log is
// `file` (if that process still is the one recorded, not a reused pid). Returns whether it did.
bool endOrphanedStep(const std::filesystem::path& file);

// Smoke checks alone (after a rollback's switch, they say whether the old release is back up).
std::vector<SmokeResult> runSmoke(const Target& t, DeployLog& log, bool* allOk);

}  // namespace boucle::deploy
