#include "deploy/deployer.h"

#include <algorithm>
#include <ctime>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/bell.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "deploy/ansible_driver.h"
#include "deploy/local_driver.h"
#include "deploy/migrations.h"
#include "deploy/policy.h"
#include "deploy/rules.h"
#include "deploy/ssh_driver.h"
#include "pipeline/parser.h"
#include "scheduler/schedule.h"
#include "scm/git_repo.h"

namespace boucle::deploy {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The release's deploy method, by its driver.
Outcome runDriver(const Target& t, const DeployerOptions& o, DeployLog& log, bool dryRun) {
  switch (t.spec.driver) {
    case pipeline::Driver::kSsh:
      return deploySsh(t, o.shared() / "blobs", log, dryRun);
    case pipeline::Driver::kAnsible:
      return deployAnsible(t, o.shared() / "blobs", o.dataDir / "deploys", log, dryRun);
    case pipeline::Driver::kLocal:
    case pipeline::Driver::kCommand:
      break;
  }
  return deployLocal(t, o.shared() / "blobs", log, dryRun);
}

bool remoteDriver(const Target& t) {
  return t.spec.driver == pipeline::Driver::kSsh || t.spec.driver == pipeline::Driver::kAnsible;
}

void audit(store::Store& s, const std::string& actor, const std::string& action,
           const std::string& project, const std::string& target, const std::string& detail) {
  if (auto st = s.addAudit({0, nowMs(), actor, action, project, target, detail}); !st.ok()) {
    logError("audit: " + st.message());
  }
}

}  // namespace

Result<Current> currentRelease(store::Store& store, const std::string& project,
                               const std::string& env) {
  auto list = store.listDeploys(project, env, 1000);
  if (!list.ok()) return list.status();
  for (const auto& d : *list) {
    if (d.state == store::DeployState::kSucceeded && !d.dryRun) return Current{d.version, d};
  }
  return Current{};
}

Deployer::Deployer(store::Store& store, DeployerOptions options)
    : store_(store), options_(std::move(options)) {}

Deployer::~Deployer() {
  stop();
}

void Deployer::start() {
  // Ansible's working folders hold the variables file (secrets among them): a server killed
  // mid-deploy leaves one behind, which goes now.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(options_.dataDir / "deploys", ec)) {
    if (e.is_directory(ec) && e.path().filename().string().starts_with("ansible-")) {
      fs::remove_all(e.path(), ec);
      logInfo("removed " + e.path().string() + ", left by a deploy a stopped server ran");
    }
  }
  auto interrupted =
      store_.interruptDeploys("the server stopped during the deploy", options_.orphansAtStart);
  if (interrupted.ok()) {
    for (const auto& d : *interrupted) {
      int ended = endOrphanedSteps(logPath(d.id));
      logError("deploy " + std::to_string(d.id) + " of " + d.project + " " + d.version + " to " +
               d.env + " was interrupted" +
               (ended ? " (the steps it was running have been ended)" : "") +
               ": check the environment");
    }
  }
  // Deploys to different environments run side by side (one at a time per environment, the
  // store's claim sees to that): a long deploy to dev does not hold prod's back.
  for (size_t i = 0; i < std::max<size_t>(1, options_.parallel); ++i) {
    threads_.emplace_back([this] { loop(); });
  }
  threads_.emplace_back([this] { scheduleLoop(); });
}

void Deployer::stop() {
  wakeup_.stop();
  scheduleWakeup_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

fs::path Deployer::logPath(int64_t id) const {
  return options_.shared() / "deploys" / (std::to_string(id) + ".log");
}

// What the record says of `version`: whether it succeeded here, and in `after`.
Result<History> Deployer::historyOf(const std::string& project, const std::string& version,
                                    const std::string& env, const std::string& after) {
  auto succeededIn = [&](const std::string& where) -> Result<bool> {
    if (where.empty()) return false;
    auto list = store_.listDeploys(project, where, 1000);
    if (!list.ok()) return list.status();
    for (const auto& d : *list) {
      if (d.version == version && d.state == store::DeployState::kSucceeded && !d.dryRun)
        return true;
    }
    return false;
  };
  auto here = succeededIn(env);
  if (!here.ok()) return here.status();
  auto before = succeededIn(after);
  if (!before.ok()) return before.status();
  return History{*here, *before};
}

Result<store::Deploy> Deployer::request(DeployRequest r) {
  auto release = store_.getRelease(r.project, r.version);
  if (!release.ok()) return release.status();
  auto parsed = pipeline::parsePipeline(release->pipeline);
  if (!parsed.ok()) return Status::Invalid(r.version + "'s pipeline file does not parse");
  if (!parsed.pipeline.deploy) return Status::Invalid(r.version + " has no deploy section");
  auto policy = loadPolicy(store_, r.project, scm::mirrorPath(options_.shared(), r.project));
  if (!policy.ok()) return policy.status();
  const auto* env = policy->env(r.env);
  if (!env) {
    return Status::Invalid(r.env + " is not an environment of " + r.project + " (its " +
                           policy->branch + " branch's pipeline file names " + policy->envNames() +
                           ")");
  }
  auto history = historyOf(r.project, r.version, r.env, env->after);
  if (!history.ok()) return history.status();
  if (auto st = mayDeploy(*env, {r.env, r.version, r.rollback, r.dryRun, r.by}, *history,
                          options_.clock() / 1000);
      !st.ok()) {
    return st;
  }
  auto current = currentRelease(store_, r.project, r.env);
  if (!current.ok()) return current.status();
  // Going back past a migration that cannot be undone is refused here, before it queues; the
  // deploy checks again when it starts (what runs there may have changed meanwhile).
  if (!r.dryRun && r.force.empty()) {
    auto plan = planMigrations(store_, r.project, r.env, *release);
    if (!plan.ok()) return plan.status();
    if (auto why = plan->refusal(r.env, current->version, r.version); !why.empty())
      return Status::Conflict(why);
  }
  store::Deploy d;
  d.project = r.project;
  d.forced = r.force;
  d.cause = r.cause;
  d.env = r.env;
  d.version = r.version;
  d.fromVersion = current->version;
  d.rollback = r.rollback;
  d.dryRun = r.dryRun;
  d.requestedBy = r.actor;
  d.requestedAt = nowMs();
  // A deploy already under way there: this one queues behind it, and says behind what.
  if (auto there = store_.listDeploys(r.project, r.env, 50); there.ok()) {
    for (const auto& other : *there) {
      if (other.state == store::DeployState::kRunning) {
        d.reason = "queued behind deploy " + std::to_string(other.id) + " (" + other.version +
                   ", asked by " + other.requestedBy + ")";
      }
    }
  }
  if (!env->approval.empty() && !r.dryRun) {
    d.state = store::DeployState::kWaiting;
    std::string who;
    for (const auto& a : env->approval) who += (who.empty() ? "" : ", ") + a;
    d.reason = "waiting for an approval (" + who + ")";
  }
  auto created = store_.createDeploy(d);
  if (!created.ok()) return created.status();
  if (created->state == store::DeployState::kWaiting && options_.onChange) {
    options_.onChange(*created);
  }
  audit(store_, r.actor, r.rollback ? "rollback" : "deploy", r.project, r.env,
        r.version + (r.dryRun ? " (dry run)" : "") + ", deploy " + std::to_string(created->id) +
            (r.force.empty() ? "" : ", forced: " + r.force) +
            (r.cause.empty() ? "" : " (" + r.cause + ")"));
  wakeup_.wake();
  return created;
}

Result<store::Deploy> Deployer::promote(const std::string& project, const std::string& from,
                                        const std::string& to, const auth::Principal& by) {
  auto current = currentRelease(store_, project, from);
  if (!current.ok()) return current.status();
  if (current->version.empty()) return Status::Conflict(from + " has no release to promote");
  return request({project, current->version, to, by.name, false, false, by, "", ""});
}

Result<store::Deploy> Deployer::rollback(const std::string& project, const std::string& env,
                                         const std::string& version, const auth::Principal& by,
                                         const std::string& force) {
  std::string target = version;
  if (target.empty()) {
    auto current = currentRelease(store_, project, env);
    if (!current.ok()) return current.status();
    auto list = store_.listDeploys(project, env, 1000);
    if (!list.ok()) return list.status();
    for (const auto& d : *list) {
      if (d.state == store::DeployState::kSucceeded && !d.dryRun && d.version != current->version) {
        target = d.version;
        break;
      }
    }
    if (target.empty()) {
      return Status::Conflict(env + " has no earlier successful release to go back to");
    }
  }
  return request({project, target, env, by.name, true, false, by, force, ""});
}

Result<store::Deploy> Deployer::approve(int64_t id, const auth::Principal& by) {
  const std::string& actor = by.name;
  auto d = store_.getDeploy(id);
  if (!d.ok()) return d.status();
  if (d->state != store::DeployState::kWaiting) {
    return Status::Conflict("deploy " + std::to_string(id) + " is " +
                            std::string(store::toString(d->state)) + ", not waiting");
  }
  // The rules as they stand now, from the policy branch; none readable: admins only.
  auto policy = loadPolicy(store_, d->project, scm::mirrorPath(options_.shared(), d->project));
  const auto* env = policy.ok() ? policy->env(d->env) : nullptr;
  if (auto st = mayApprove(env, d->env, by, d->requestedBy); !st.ok()) return st;
  d->state = store::DeployState::kQueued;
  d->reason.clear();
  d->approvedBy = actor;
  d->approvedAt = options_.clock();
  if (auto st = store_.updateDeployFrom(*d, store::DeployState::kWaiting); !st.ok()) return st;
  audit(store_, actor, "approve", d->project, d->env,
        d->version + ", deploy " + std::to_string(id) + " asked by " + d->requestedBy);
  wakeup_.wake();
  return *d;
}

Result<store::Deploy> Deployer::cancel(int64_t id, const auth::Principal& by) {
  auto d = store_.getDeploy(id);
  if (!d.ok()) return d.status();
  if (d->state != store::DeployState::kWaiting && d->state != store::DeployState::kQueued) {
    return Status::Conflict("deploy " + std::to_string(id) + " is " +
                            std::string(store::toString(d->state)) +
                            ": only a waiting or queued deploy can be cancelled");
  }
  auto policy = loadPolicy(store_, d->project, scm::mirrorPath(options_.shared(), d->project));
  const auto* env = policy.ok() ? policy->env(d->env) : nullptr;
  bool approver = env && by.namedBy(env->approval);
  if (!by.admin() && by.name != d->requestedBy && !approver) {
    return Status::Unauthorized(by.describe() + " may not cancel deploy " + std::to_string(id) +
                                ": who asked for it, an approver of " + d->env +
                                " or an admin may");
  }
  bool rejected = d->state == store::DeployState::kWaiting;
  d->state = store::DeployState::kCancelled;
  d->reason = (rejected ? "rejected by " : "cancelled by ") + by.name;
  d->finishedAt = nowMs();
  // Only while it still waits: the deploy thread may have claimed it meanwhile.
  auto was = rejected ? store::DeployState::kWaiting : store::DeployState::kQueued;
  if (auto st = store_.updateDeployFrom(*d, was); !st.ok()) return st;
  logBell().ring(deployBellKey(id), true);
  audit(store_, by.name, rejected ? "reject" : "cancel", d->project, d->env,
        d->version + ", deploy " + std::to_string(id) + " asked by " + d->requestedBy);
  if (options_.onChange) options_.onChange(*d);
  return *d;
}

// The policy's first environments with `auto: true` and no `after` get the release, asked for
// in the name of whoever made it. A prerelease goes no further than the first environment.
// The person behind a name, with their roles: automatic deploys they set going are held to
// `deployers` as their own requests are. "boucle" (a release the server made from a push to a
// release branch) is the policy's own automation: nobody's roles apply.
std::optional<auth::Principal> Deployer::principalNamed(const std::string& name) {
  if (name == "boucle") return std::nullopt;
  // A person, with the roles they have now (none once disabled).
  auto person = store_.findUser(name);
  if (person.ok() && *person) {
    auto roles = auth::parseRoles((*person)->roles);
    if (!(*person)->disabled && roles.ok()) return auth::Principal{name, *roles};
    return auth::Principal{name + " (disabled)", {"viewer"}};
  }
  auto tokens = store_.listTokens();
  if (tokens.ok()) {
    int64_t now = options_.clock();
    for (const auto& t : *tokens) {
      // A service's token; a person's tokens are theirs, named otherwise.
      if (t.name != name || !t.owner.empty() || (t.expiresAt && *t.expiresAt <= now)) continue;
      auto roles = auth::parseRoles(t.role);
      if (roles.ok()) return auth::Principal{t.name, *roles};
    }
  }
  // A name no valid token carries now (revoked, expired): no deploy right, and no "user:NAME"
  // rule names it either.
  return auth::Principal{name + " (no valid token)", {"viewer"}};
}

void Deployer::releaseCreated(const store::Release& release, const std::string& actor) {
  syncSoon_ = true;
  scheduleWakeup_.wake();
  auto policy =
      loadPolicy(store_, release.project, scm::mirrorPath(options_.shared(), release.project));
  if (!policy.ok()) {
    logError("auto deploys of " + release.version + ": " + policy.status().message());
    return;
  }
  const auto& envs = policy->pipeline.environments;
  for (size_t i = 0; i < envs.size(); ++i) {
    const auto& env = envs[i];
    if (!env.autoDeploy || !env.after.empty()) continue;
    if (release.prerelease && i > 0) continue;
    auto d = request({release.project, release.version, env.name, actor, false, false,
                      principalNamed(actor), "", ""});
    if (!d.ok()) logError("auto deploy to " + env.name + ": " + d.status().message());
  }
}

// The environments that take each release once it succeeded in `d`'s (auto + after), asked
// for in the name of who asked for `d`: four eyes then still sees who started the chain.
// Prereleases are never carried on.
void Deployer::chainAfter(const store::Deploy& d, const store::Release& release) {
  if (release.prerelease) return;
  auto policy = loadPolicy(store_, d.project, scm::mirrorPath(options_.shared(), d.project));
  if (!policy.ok())
    return logError("auto deploys after " + d.env + ": " + policy.status().message());
  for (const auto& e : policy->pipeline.environments) {
    if (!e.autoDeploy || e.after != d.env) continue;
    auto next = request({d.project, d.version, e.name, d.requestedBy, false, false,
                         principalNamed(d.requestedBy), "", ""});
    if (!next.ok()) logError("auto deploy to " + e.name + ": " + next.status().message());
  }
}

namespace {

// An environment's schedule is kept beside the branches' (store::Schedule) under a name no
// branch can have: git refuses ':' in a branch name.
constexpr std::string_view kEnvSchedule = "env:";

}  // namespace

// The schedules follow the policy branch, read again every 15 seconds (a tree read from the
// mirror per project) and as a release comes; their firing is checked every few seconds (a
// cron's resolution is the minute).
void Deployer::scheduleLoop() {
  int64_t synced = 0;
  do {
    int64_t now = nowMs();
    bool asked = syncSoon_.exchange(false);
    if (asked || now - synced >= 15'000) {
      syncSchedules(now);
      synced = now;
    }
    fireSchedules();
  } while (scheduleWakeup_.wait(std::chrono::seconds(5)));
}

void Deployer::syncSchedules(int64_t now) {
  auto projects = store_.listProjects();
  auto stored = store_.dueSchedules(std::numeric_limits<int64_t>::max());
  if (!projects.ok() || !stored.ok()) return;
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> have;
  for (const auto& sc : *stored) {
    if (sc.branch.starts_with(kEnvSchedule)) have[{sc.project, sc.branch}] = sc.crons;
  }
  for (const auto& p : *projects) {
    auto policy = loadPolicy(store_, p.name, scm::mirrorPath(options_.shared(), p.name));
    if (!policy.ok()) continue;  // rules that cannot be read change nothing
    std::set<std::string> wanted;
    for (const auto& env : policy->pipeline.environments) {
      if (env.schedule.empty()) continue;
      std::string key = std::string(kEnvSchedule) + env.name;
      wanted.insert(key);
      auto it = have.find({p.name, key});
      if (it != have.end() && it->second == env.schedule) continue;
      auto next = scheduler::nextFiring(env.schedule, now);
      if (!next) continue;
      if (auto st = store_.setSchedule({p.name, key, env.schedule, *next}); !st.ok())
        logError("schedule: " + st.message());
      logInfo("schedule: " + p.name + " " + env.name + " is deployed at " + [&] {
        std::string all;
        for (const auto& c : env.schedule) all += (all.empty() ? "'" : ", '") + c + "'";
        return all;
      }());
    }
    for (const auto& [key, crons] : have) {
      if (key.first != p.name || wanted.count(key.second)) continue;
      if (auto st = store_.setSchedule({p.name, key.second, {}, 0}); !st.ok())
        logError("schedule: " + st.message());
    }
  }
}

void Deployer::fireSchedules() {
  int64_t now = nowMs();
  auto due = store_.dueSchedules(now);
  if (!due.ok()) return logError("schedule: " + due.status().message());
  for (const auto& sc : *due) {
    if (!sc.branch.starts_with(kEnvSchedule)) continue;
    // Taken first: of the servers sharing the database, the one that moves it deploys.
    auto taken = store_.takeSchedule(sc, scheduler::nextFiring(sc.crons, now));
    if (!taken.ok() || !*taken) continue;
    deployScheduled(sc.project, sc.branch.substr(kEnvSchedule.size()));
  }
}

// The newest release that may go to `env`: one that succeeded in its `after`, made by someone
// who may deploy there, and no prerelease past the first environment. Deployed even when it runs
// there already: on a blank environment that is the point.
void Deployer::deployScheduled(const std::string& project, const std::string& env) {
  auto policy = loadPolicy(store_, project, scm::mirrorPath(options_.shared(), project));
  if (!policy.ok())
    return logError("schedule: " + project + " " + env + ": " + policy.status().message());
  const auto* rules = policy->env(env);
  if (!rules) return;
  bool first = policy->pipeline.environments.front().name == env;
  auto releases = store_.listReleases(project, 200);
  if (!releases.ok()) return logError("schedule: " + releases.status().message());
  // Never older than what runs there: a schedule moves an environment on, not back.
  int64_t runsThere = 0;
  if (auto current = currentRelease(store_, project, env); current.ok() && current->deploy) {
    if (auto rel = store_.getRelease(project, current->version); rel.ok()) runsThere = rel->id;
  }
  for (const auto& r : *releases) {
    if (r.id < runsThere) break;
    if (r.prerelease && !first) continue;
    if (!rules->after.empty()) {
      auto h = historyOf(project, r.version, env, rules->after);
      if (!h.ok() || !h->passedAfter) continue;
    }
    // In the name of who made the release, held to `deployers` as an automatic deploy is
    // (and so four eyes see them): a schedule is no way round who may deploy there.
    auto d = request({project, r.version, env, r.createdBy, false, false,
                      principalNamed(r.createdBy), "", "schedule"});
    if (!d.ok() && d.status().code() == Code::kUnauthorized) {
      logInfo("schedule: " + project + " " + r.version + " to " + env + ": " +
              d.status().message());
      continue;  // an older release, made by someone who may
    }
    if (d.ok()) {
      logInfo("schedule: " + project + " " + r.version + " to " + env + ", deploy " +
              std::to_string(d->id));
    } else {
      logError("schedule: " + project + " " + r.version + " to " + env + ": " +
               d.status().message());
    }
    return;
  }
  logInfo("schedule: " + project + " " + env + ": no release may go there yet");
}

void Deployer::loop() {
  while (wakeup_.wait(std::chrono::milliseconds(500))) {
    for (;;) {
      auto next = store_.claimNextDeploy(nowMs());
      if (!next.ok()) {
        logError("deploys: " + next.status().message());
        break;
      }
      if (!next->has_value()) break;
      execute(std::move(**next));
    }
  }
}

namespace {

// Whether the deploy's release succeeded in its environment before.
bool ranHereBefore(store::Store& store, const store::Deploy& d) {
  auto here = store.listDeploys(d.project, d.env, 1000);
  if (!here.ok()) return false;
  for (const auto& other : *here) {
    if (other.id != d.id && other.version == d.version && !other.dryRun &&
        other.state == store::DeployState::kSucceeded)
      return true;
  }
  return false;
}

}  // namespace

void Deployer::execute(store::Deploy d) {
  // Reasons and smoke results are stored and shown: masked with the deploy log's masker once
  // the secrets are known (a failing step's text, a check's URL may hold rendered values).
  const DeployLog* masking = nullptr;
  auto clean = [&](const std::string& text) { return masking ? masking->mask(text) : text; };
  auto finish = [&](store::DeployState state, std::string reason) {
    d.state = state;
    d.reason = clean(reason);
    d.finishedAt = nowMs();
    if (auto st = store_.updateDeploy(d); !st.ok()) logError("deploy: " + st.message());
    logBell().ring(deployBellKey(d.id), true);
    audit(
        store_, "boucle", "deploy." + std::string(store::toString(state)), d.project, d.env,
        d.version + ", deploy " + std::to_string(d.id) + (d.reason.empty() ? "" : ": " + d.reason));
    logInfo("deploy " + std::to_string(d.id) + " of " + d.project + " " + d.version + " to " +
            d.env + ": " + std::string(store::toString(state)));
    if (options_.onChange) options_.onChange(d);
  };
  fs::path mirror = scm::mirrorPath(options_.shared(), d.project);
  auto values = unsealedValues(d.project, d.env);
  if (!values.ok()) return finish(store::DeployState::kFailed, values.status().message());
  std::vector<std::string> secrets;
  for (const auto& v : *values) {
    if (v.secret) secrets.push_back(v.value);
  }
  d.reason.clear();
  DeployLog log(logPath(d.id), secrets, deployBellKey(d.id));
  masking = &log;
  auto current = currentRelease(store_, d.project, d.env);
  d.fromVersion = current.ok() ? current->version : "";
  log.say("deploy " + std::to_string(d.id) + ": " + d.project + " " + d.version + " to " + d.env +
          (d.fromVersion.empty() ? "" : " (now " + d.fromVersion + ")") +
          (d.rollback ? ", a rollback" : "") + ", asked by " + d.requestedBy);
  auto release = store_.getRelease(d.project, d.version);
  if (!release.ok()) return finish(store::DeployState::kFailed, release.status().message());
  auto target = prepareTarget(*release, d.env, *values, mirror, options_.dataDir / "environments");
  if (!target.ok()) {
    log.say("nothing was touched: " + target.status().message());
    return finish(store::DeployState::kFailed, target.status().message());
  }
  // The environment's `verify`, from the policy branch, known before anything is touched:
  // rules that cannot be read stop the deploy here rather than after its steps.
  std::optional<pipeline::Environment::Verify> verify;
  std::optional<pipeline::Environment::Perf> perf;
  std::string perfAgainst;
  bool blank = false;
  auto policy = loadPolicy(store_, d.project, mirror);
  if (!policy.ok() && !d.dryRun) {
    log.say("nothing was touched: " + policy.status().message());
    return finish(store::DeployState::kFailed, policy.status().message());
  }
  if (const auto* env = policy.ok() ? policy->env(d.env) : nullptr) {
    if (!d.dryRun) {
      verify = env->verify;
      perf = env->perf;
      perfAgainst = env->after;
    }
    blank = env->blank;
  }
  // The database: what this move migrates, or undoes; going back past a migration that
  // cannot be undone stops here unless it was forced.
  auto migrations = planMigrations(store_, d.project, d.env, *release);
  if (!migrations.ok()) {
    log.say("nothing was touched: " + migrations.status().message());
    return finish(store::DeployState::kFailed, migrations.status().message());
  }
  std::string refusal = migrations->refusal(d.env, d.fromVersion, d.version);
  if (d.dryRun) {
    for (const auto& line : migrations->describe()) log.say("dry run: " + line);
    if (!refusal.empty()) log.say("dry run: would be refused: " + refusal);
    if (blank)
      log.say("dry run: would wipe " + target->dir.string() + " first (a blank environment)");
  } else if (!refusal.empty() && d.forced.empty()) {
    log.say(refusal);
    return finish(store::DeployState::kFailed, refusal);
  } else if (!refusal.empty()) {
    log.say("forced past the irreversible migration of " + migrations->irreversibleNames() + ": " +
            d.forced);
  }
  // A folder a blank environment may not wipe stops the deploy before anything is touched.
  if (blank && !d.dryRun) {
    auto may = remoteDriver(*target) ? mayWipeSsh(*target)
                                     : mayWipeLocal(*target, {options_.dataDir, options_.shared()});
    if (!may.ok()) {
      log.say("nothing was touched: " + may.message());
      return finish(store::DeployState::kFailed, may.message());
    }
  }
  // A rollback to a release that ran here before is not measured again: it goes back to what
  // was measured (or ran before the rule). Any other deploy is, a "rollback" to a release that
  // never ran here included.
  if (perf && !(d.rollback && ranHereBefore(store_, d))) {
    auto gate = checkPerformance(
        store_, d, *release, *perf, perfAgainst, options_.perf,
        [this] { return wakeup_.stopping(); }, [&](const std::string& line) { log.say(line); });
    d.perfJson = gate.json;
    if (gate.end == PerfGate::End::kInterrupted)
      return finish(store::DeployState::kInterrupted, gate.reason);
    if (gate.end == PerfGate::End::kFailed) return finish(store::DeployState::kFailed, gate.reason);
    if (auto st = store_.updateDeploy(d); !st.ok()) logError("deploy: " + st.message());
  }
  auto noteMigration = [&](int64_t releaseId, const std::string& version, bool applied) {
    if (auto st =
            store_.setMigrationApplied(d.project, d.env, {releaseId, version, nowMs()}, applied);
        !st.ok())
      logError("deploy " + std::to_string(d.id) + ": migrations: " + st.message());
  };
  std::vector<MigrationPlan::Step> undone;  // newest first, as run
  if (!d.dryRun) {
    for (const auto& step : migrations->downs) {
      log.say("undo " + step.version + "'s migration: " + step.command);
      auto st = runMigration(d, step.version, step.command, *values, d.fromVersion, d.version, log);
      if (!st.ok()) {
        std::string why = "undoing " + step.version + "'s migration failed: " + st.message() +
                          "; " + d.env + " still runs " + d.fromVersion + " (check its database)";
        log.say("FAILED: " + why);
        return finish(store::DeployState::kFailed, why);
      }
      noteMigration(step.releaseId, step.version, false);
      undone.push_back(step);
    }
    if (blank) {
      auto wiped = remoteDriver(*target)
                       ? wipeSsh(*target, log)
                       : wipeLocal(*target, {options_.dataDir, options_.shared()}, log);
      if (!wiped.ok()) {
        log.say("FAILED: " + wiped.message());
        // Refused, nothing was touched; failed partway, some hosts may be wiped already: they
        // get what ran before back.
        if (wiped.code() == Code::kInvalid || d.fromVersion.empty() ||
            target->spec.onFailure != pipeline::OnFailure::kRollback)
          return finish(store::DeployState::kFailed, wiped.message());
        Outcome none;
        none.failure = wiped.message();
        auto [state, reason] = rollBack(d, *values, none, true, false, undone, log);
        return finish(state, reason);
      }
    }
  }
  if (migrations->up) target->migrateUp = migrations->up->command;
  target->onMigrated = [&] { noteMigration(release->id, release->version, true); };
  target->environ.push_back("BOUCLE_MIGRATE_FROM=" + d.fromVersion);
  target->environ.push_back("BOUCLE_MIGRATE_TO=" + d.version);
  auto outcome = runDriver(*target, options_, log, d.dryRun);
  // Forced past, and through: the irreversible migrations' changes stay in the database and no
  // later rollback is held by them.
  if (outcome.ok && !d.dryRun && !refusal.empty()) {
    if (auto rows = store_.appliedMigrations(d.project, d.env); rows.ok()) {
      for (const auto& row : *rows) {
        if (std::find(migrations->irreversible.begin(), migrations->irreversible.end(),
                      row.version) != migrations->irreversible.end())
          noteMigration(row.releaseId, row.version, false);
      }
    }
  }
  json smoke = json::array();
  for (const auto& r : outcome.smoke) {
    smoke.push_back(
        {{"check", clean(r.check)}, {"ok", r.ok}, {"detail", clean(r.detail)}, {"ms", r.ms}});
  }
  d.smokeJson = smoke.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  bool unverified = false;
  if (outcome.ok && verify) {
    auto passed = verified(d, *release, *verify, *values, outcome, log);
    unverified = passed && !*passed;
    if (!passed) {
      log.say("the server stopped during the verification: " + d.version + " is deployed but " +
              "not verified");
      return finish(store::DeployState::kInterrupted,
                    "the server stopped during the verification: " + d.version +
                        " is deployed but not verified; check the environment");
    }
  }
  if (outcome.ok) {
    log.say(d.dryRun ? "dry run done" : "deployed " + d.version + " to " + d.env);
    finish(store::DeployState::kSucceeded, d.dryRun ? "dry run: nothing touched" : "");
    if (d.dryRun || d.rollback) return;
    chainAfter(d, *release);
    return;
  }
  log.say("FAILED: " + outcome.failure);
  // A rollback that fails its verification stays where it is: going back would reinstall the
  // release it was leaving. Any other release that failed its verification goes back whatever
  // its own `on_failure` says: the policy asked for the verification.
  if (unverified && d.rollback) {
    log.say(d.version + " stays in place, not verified: " + d.env + " needs a look");
    return finish(store::DeployState::kFailed, outcome.failure + "; " + d.version +
                                                   " stays in place (a rollback is not undone)");
  }
  bool goBack = target->spec.onFailure == pipeline::OnFailure::kRollback || unverified;
  if (!goBack || d.fromVersion.empty() || d.fromVersion == d.version) {
    return finish(store::DeployState::kFailed, outcome.failure);
  }
  auto [state, reason] =
      rollBack(d, *values, outcome, blank, outcome.migrated && migrations->upIsNew, undone, log);
  finish(state, reason);
}

// A rollback to a release that succeeded here before (verified then, if the rule stood) is
// not watched again; one to a release that never ran here is, as any deploy.
std::optional<bool> Deployer::verified(store::Deploy& d, const store::Release& release,
                                       const pipeline::Environment::Verify& spec,
                                       const std::vector<store::EnvValue>& values, Outcome& outcome,
                                       DeployLog& log) {
  auto fail = [&](const std::string& why) {
    outcome.ok = false;
    outcome.failure = "verification failed: " + why;
    return false;
  };
  if (d.rollback) {
    auto here = store_.listDeploys(d.project, d.env, 1000);
    if (!here.ok()) return fail(here.status().message());
    for (const auto& other : *here) {
      if (other.id != d.id && other.version == d.version && !other.dryRun &&
          other.state == store::DeployState::kSucceeded) {
        log.say("not verified again: " + d.version + " succeeded here before (deploy " +
                std::to_string(other.id) + ")");
        return true;
      }
    }
  }
  if (!options_.verify) return fail("this server cannot watch monitors");
  // The evidence is masked where it is made (each probe's detail, with the environment's
  // secrets); masking the JSON whole could cut through its syntax.
  auto save = [&](const std::string& json) {
    d.verifyJson = json;
    if (auto st = store_.updateDeploy(d); !st.ok()) logError("deploy: " + st.message());
  };
  d.reason = "verifying for " + formatDuration(spec.duration);
  save(R"({"for_ms":)" + std::to_string(spec.duration.count()) + R"(,"probes":[],)" +
       R"("started_at_ms":)" + std::to_string(nowMs()) + R"(,"state":"running"})");
  if (options_.onChange) options_.onChange(d);  // the environment now runs this release
  auto v =
      options_.verify({d, release, spec, values, log, [this] { return wakeup_.stopping(); }, save});
  d.reason.clear();
  save(v.json);
  switch (v.end) {
    case Verification::End::kPassed:
      return true;
    case Verification::End::kInterrupted:
      return std::nullopt;
    case Verification::End::kFailed:
      break;
  }
  return fail(v.failure);
}

// Back to what ran before, with that release's own method and this environment's values: on
// the hosts this deploy changed only. The deploy's end and its reason.
std::pair<store::DeployState, std::string> Deployer::rollBack(
    const store::Deploy& d, const std::vector<store::EnvValue>& values, const Outcome& outcome,
    bool wiped, bool undoUp, const std::vector<MigrationPlan::Step>& undone, DeployLog& log) {
  using store::DeployState;
  fs::path mirror = scm::mirrorPath(options_.shared(), d.project);
  auto note = [&](const store::Release& r, bool applied) {
    if (auto st = store_.setMigrationApplied(d.project, d.env, {r.id, r.version, nowMs()}, applied);
        !st.ok())
      logError("deploy " + std::to_string(d.id) + ": migrations: " + st.message());
  };
  // The migration this deploy brought is undone first, from its own folder, or the way back
  // is shut.
  if (undoUp) {
    auto release = store_.getRelease(d.project, d.version);
    auto m = release.ok() ? migrationOf(*release) : std::nullopt;
    if (!m || m->down.empty()) {
      std::string why = d.version + "'s migration ran and is irreversible: not rolled back to " +
                        d.fromVersion + " (the environment needs a look)";
      log.say(why);
      return {DeployState::kFailed, outcome.failure + "; " + why};
    }
    log.say("undo " + d.version + "'s migration: " + m->down);
    auto st = runMigration(d, d.version, m->down, values, d.version, d.fromVersion, log);
    if (!st.ok()) {
      log.say("rollback FAILED: undoing the migration: " + st.message());
      return {DeployState::kFailed, outcome.failure + "; undoing " + d.version +
                                        "'s migration failed too: " + st.message() +
                                        " (the environment needs a look)"};
    }
    note(*release, false);
  }
  log.say("rolling back to " + d.fromVersion);
  auto previous = store_.getRelease(d.project, d.fromVersion);
  auto back = previous.ok() ? prepareTarget(*previous, d.env, values, mirror,
                                            options_.dataDir / "environments")
                            : Result<Target>(previous.status());
  if (!back.ok()) {
    log.say("rollback impossible: " + back.status().message());
    return {DeployState::kFailed,
            outcome.failure + "; rollback impossible: " + back.status().message()};
  }
  // A blank environment's hosts were all wiped: each needs the release back.
  if (remoteDriver(*back) && !wiped) {
    std::erase_if(back->hosts, [&](const Host& h) {
      return std::find(outcome.touched.begin(), outcome.touched.end(), h.name) ==
             outcome.touched.end();
    });
    if (back->hosts.empty()) {
      log.say("no host was changed: " + d.env + " still runs " + d.fromVersion);
      return {DeployState::kFailed,
              outcome.failure + "; no host was changed, " + d.fromVersion + " still runs"};
    }
    std::string names;
    for (const auto& h : back->hosts) names += (names.empty() ? "" : ", ") + h.name;
    log.say("hosts to put back: " + names);
  }
  // What this deploy undid is applied again, oldest first, each from its own release; then
  // the release going back migrates as any deploy of it does.
  for (auto it = undone.rbegin(); it != undone.rend(); ++it) {
    auto r = store_.getRelease(d.project, it->version);
    auto m = r.ok() ? migrationOf(*r) : std::nullopt;
    if (!m) continue;
    log.say("apply " + it->version + "'s migration again: " + m->up);
    if (auto st = runMigration(d, it->version, m->up, values, d.version, d.fromVersion, log);
        !st.ok()) {
      log.say("rollback FAILED: applying " + it->version + "'s migration again: " + st.message());
      return {DeployState::kFailed, outcome.failure + "; applying " + it->version +
                                        "'s migration again failed: " + st.message() +
                                        " (the environment needs a look)"};
    }
    note(*r, true);
  }
  if (auto m = migrationOf(*previous)) back->migrateUp = m->up;
  back->onMigrated = [&] { note(*previous, true); };
  back->environ.push_back("BOUCLE_MIGRATE_FROM=" + d.version);
  back->environ.push_back("BOUCLE_MIGRATE_TO=" + d.fromVersion);
  auto restored = runDriver(*back, options_, log, false);
  if (!restored.ok) {
    log.say("rollback FAILED too: " + restored.failure);
    return {DeployState::kFailed, outcome.failure + "; rollback to " + d.fromVersion +
                                      " failed too: " + restored.failure +
                                      " (the environment needs a look)"};
  }
  log.say("rolled back: " + d.env + " runs " + d.fromVersion + " again, its smoke checks pass");
  return {DeployState::kRolledBack, outcome.failure + "; rolled back to " + d.fromVersion};
}

Status Deployer::runMigration(const store::Deploy& d, const std::string& version,
                              const std::string& command,
                              const std::vector<store::EnvValue>& values, const std::string& from,
                              const std::string& to, DeployLog& log) {
  auto release = store_.getRelease(d.project, version);
  if (!release.ok()) return release.status();
  auto t = prepareTarget(*release, d.env, values, scm::mirrorPath(options_.shared(), d.project),
                         options_.dataDir / "environments");
  if (!t.ok()) return t.status();
  t->environ.push_back("BOUCLE_MIGRATE_FROM=" + from);
  t->environ.push_back("BOUCLE_MIGRATE_TO=" + to);
  switch (t->spec.driver) {
    case pipeline::Driver::kSsh:
      return migrateSsh(*t, command, options_.shared() / "blobs", log);
    case pipeline::Driver::kAnsible:
      return Status::Invalid(version + " is deployed by its Ansible playbook, which migrates");
    case pipeline::Driver::kLocal:
    case pipeline::Driver::kCommand:
      break;
  }
  return migrateLocal(*t, command, options_.shared() / "blobs", log);
}

// The environment's values, its secrets unsealed (they stay in memory only).
Result<std::vector<store::EnvValue>> Deployer::unsealedValues(const std::string& project,
                                                              const std::string& env) {
  return deploy::unsealedValues(store_, options_.secrets, project, env);
}

}  // namespace boucle::deploy
