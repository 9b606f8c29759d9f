#pragma once
// Deploys: the rules that decide whether a release may go to an environment (after, approval,
// window), one deploy at a time per environment, and their execution by the release's own
// deploy method — the same for every environment, only the environment's values differ.
// Every request, approval and result goes to the audit log.

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/roles.h"
#include "auth/secret_box.h"
#include "core/clock.h"
#include "core/status.h"
#include "core/wakeup.h"
#include "deploy/migrations.h"
#include "deploy/perf_gate.h"
#include "deploy/rules.h"
#include "deploy/verify.h"
#include "pipeline/pipeline.h"
#include "store/store.h"

namespace boucle::deploy {

struct Outcome;  // local_driver.h
class DeployLog;

struct DeployRequest {
  std::string project, version, env;
  std::string actor;
  bool rollback = false;
  bool dryRun = false;
  // Who asks, checked against the environment's `deployers`; none when boucle itself asks
  // (automatic deploys, which the pipeline file already allows).
  std::optional<auth::Principal> by;
  // Why going back past an irreversible migration is wanted anyway ("" refuses it); recorded
  // with the deploy.
  std::string force;
  std::string cause;  // "schedule" for an environment's scheduled deploy
};

struct DeployerOptions {
  std::filesystem::path dataDir;  // mirrors, and Ansible's working folders
  // deploys/ (the deploys' logs) and blobs/: a folder the servers share, or "" for dataDir.
  std::filesystem::path sharedDir;
  const std::filesystem::path& shared() const { return sharedDir.empty() ? dataDir : sharedDir; }
  const auth::SecretBox* secrets = nullptr;
  // Called when a deploy ends, starts waiting for an approval (notifications) or starts its
  // verification (what runs in the environment changed).
  std::function<void(const store::Deploy&)> onChange;
  // Deploys at once (to different environments; one per environment at a time).
  size_t parallel = 4;
  // Watches a deploy under verification (environments with `verify`); without one such an
  // environment's deploys fail rather than go unverified.
  Verifier verify;
  // Runs an environment's `perf` job (a run of the release, deploy/perf_gate.h); without one
  // such an environment's deploys fail rather than go unchecked.
  PerfRunner perf;
  // Milliseconds since the epoch: windows are judged by it (a test passes a fixed one).
  std::function<int64_t()> clock = nowMs;
  // Which running deploys this server ends as interrupted at its start: those of its own
  // previous life, and of servers silent since then (several servers on one database).
  store::Orphans orphansAtStart;
};

// What an environment runs now: the newest succeeded deploy's release ("" when none), and
// that deploy.
struct Current {
  std::string version;
  std::optional<store::Deploy> deploy;
};
Result<Current> currentRelease(store::Store& store, const std::string& project,
                               const std::string& env);

class Deployer {
 public:
  Deployer(store::Store& store, DeployerOptions options);
  ~Deployer();
  void start();
  void stop();

  // Checks the rules and records the deploy: queued, or waiting for an approval. Invalid for
  // an environment or method the release's pipeline file lacks, Conflict when a rule refuses.
  Result<store::Deploy> request(DeployRequest r);
  // The release currently in `from`, to `to`.
  Result<store::Deploy> promote(const std::string& project, const std::string& from,
                                const std::string& to, const auth::Principal& by);
  // Back to `version`, or to the release `env` ran before its current one.
  // `force`: as DeployRequest's.
  Result<store::Deploy> rollback(const std::string& project, const std::string& env,
                                 const std::string& version, const auth::Principal& by,
                                 const std::string& force = "");
  // Unauthorized unless `by` is an admin or named by the environment's `approval` list (and,
  // with four eyes, not who asked).
  Result<store::Deploy> approve(int64_t id, const auth::Principal& by);
  // A deploy that waits (for an approval) or is queued: not done. By who asked, an admin, or
  // one of the environment's approvers (a rejection).
  Result<store::Deploy> cancel(int64_t id, const auth::Principal& by);
  // Environments whose rule is `auto: true` and whose `after` (if any) is met get the release.
  void releaseCreated(const store::Release& release, const std::string& actor);
  // Environments with a `schedule` whose time came get the newest release that may go there.
  // Several servers on one database fire each time once.
  void fireSchedules();

  std::filesystem::path logPath(int64_t id) const;
  const DeployerOptions& options() const { return options_; }

 private:
  void loop();
  void scheduleLoop();
  void syncSchedules(int64_t now);
  void deployScheduled(const std::string& project, const std::string& env);
  void execute(store::Deploy d);
  // A migration command of `release` in its folder in `d`'s environment, with the deploy's
  // variables and BOUCLE_MIGRATE_FROM/TO.
  Status runMigration(const store::Deploy& d, const std::string& version,
                      const std::string& command, const std::vector<store::EnvValue>& values,
                      const std::string& from, const std::string& to, DeployLog& log);
  Result<History> historyOf(const std::string& project, const std::string& version,
                            const std::string& env, const std::string& after);
  void chainAfter(const store::Deploy& d, const store::Release& release);
  std::optional<auth::Principal> principalNamed(const std::string& name);
  Result<std::vector<store::EnvValue>> unsealedValues(const std::string& project,
                                                      const std::string& env);
  // After the smoke checks: whether the environment's `verify` passed; false with
  // `outcome.failure` set when it did not, nullopt when the server stopped meanwhile.
  std::optional<bool> verified(store::Deploy& d, const store::Release& release,
                               const pipeline::Environment::Verify& spec,
                               const std::vector<store::EnvValue>& values, Outcome& outcome,
                               DeployLog& log);
  std::pair<store::DeployState, std::string> rollBack(
      const store::Deploy& d, const std::vector<store::EnvValue>& values, const Outcome& outcome,
      bool wiped, bool undoUp, const std::vector<MigrationPlan::Step>& undone, DeployLog& log);

  store::Store& store_;
  DeployerOptions options_;
  Wakeup wakeup_;
  Wakeup scheduleWakeup_;  // its own: a wake for the deploy threads must not be taken by it
  std::atomic<bool> syncSoon_{false};  // a release came: the policy may have changed with it
  std::vector<std::thread> threads_;
};

}  // namespace boucle::deploy
