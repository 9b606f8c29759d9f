#pragma once
// The one storage interface of boucle. Everything the server records goes through it; each
// backend lives in its own folder (store/sqlite/ now, store/postgres/ later) and one test suite
// runs against every backend.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace boucle::store {

// Run and job states, stored by name.
enum class RunState { kQueued, kRunning, kPassed, kFailed, kCancelled, kInterrupted };
std::string_view toString(RunState s);
std::optional<RunState> parseRunState(std::string_view s);
bool isFinished(RunState s);

struct Project {
  int64_t id = 0;
  std::string name;
  std::string url;
  std::vector<std::string> branches;  // globs of the branches that are built
  std::string webhookSecret;          // never printed in logs; shown to admins on request
  int pollSeconds = 60;               // 0: no polling
  int64_t createdAt = 0;              // ms since the epoch
  // How git reaches a private repository: "" (no credential), "token" or "ssh-key". The
  // secret is stored sealed (auth/secret_box), never in the clear.
  std::string credentialKind;
  std::string credentialUser;    // the user name sent with a token
  std::string credentialSealed;  // the token or private key, encrypted
  // Runs cut short by a crash or kill of the server are queued again at its restart.
  bool requeueInterrupted = false;
  // Jobs may ask for `isolation: process` (no sandbox): an admin's decision, never the
  // pipeline file's.
  bool allowProcessJobs = false;
  // Globs of the branches whose passing runs make releases (others make prereleases) and
  // whose pipeline file sets the environments' rules. Empty: the first of `branches`.
  std::vector<std::string> releaseBranches;
  // What a pull request's events build: "head" (its head commit), "merge" (the head merged
  // into the target branch, as merging would give), "both" or "off".
  std::string requestBuilds = "head";
  // Runs of requests from forks get the project's build secrets too: an admin's decision (a
  // stranger's code would see them).
  bool forkSecrets = false;
  // Where each run's result is set as a commit status: "" (nowhere), "github", "gitlab" or
  // "gitea"; its API's base URL and the repository there ("" for both: told from `url`).
  std::string forge, forgeApi, forgeRepo;
  // The token statuses are set with, sealed; "" = the credential's token.
  std::string forgeTokenSealed;
  // What a failure on a green branch gets before the branch is called broken: "" (nothing) or
  // "retry_once" (its failed jobs run once more; a pass makes the run flaky, not red).
  std::string onRed;
};

// The pull (merge) request a run builds. Such runs are never released or deployed, judge no
// branch (broken, fixed) and set no schedule: the request is not yet the target's history.
struct RequestOf {
  int64_t number = 0;  // 0: the run builds no request
  std::string title, author, source, target;
  std::string head;  // the request's head commit (its statuses are set on it)
  std::string ref;   // where the forge keeps the head: refs/pull/N/head, …
  // A merge run: the target's commit the head was merged into (what the run built is the
  // merge, in `Run::commit`). "" for a run of the head itself.
  std::string base;
  bool fork = false;   // from another repository: its runs get no secret unless allowed
  bool merge = false;  // builds the merge of the head into the target, not the head alone
};

struct Run {
  int64_t id = 0;  // global, also the run's directory name
  std::string project;
  int64_t number = 0;  // per project, counts up
  std::string ref;     // what was asked for (branch, tag or sha)
  std::string branch;
  std::string commit;
  std::string author;
  std::string subject;
  std::string trigger;  // "manual", "push", "poll", "schedule"
  RunState state = RunState::kQueued;
  std::string reason;
  int64_t queuedAt = 0;
  std::optional<int64_t> startedAt, finishedAt;
  std::string event;                   // "broken", "fixed" or ""
  std::optional<int64_t> brokenSince;  // first failing run of the branch's red streak
  std::vector<std::string> onlyJobs;   // a retry runs these (and what they need); empty: all
  std::optional<int64_t> rerunOf;      // the run this one repeats (re-run or retry)
  std::optional<int64_t> bisectOf;     // a bisection run: the breaking run it finds a culprit for
  // On a run that broke its branch after several commits: how many commits it was the first to
  // build, and the one of them that broke it once bisection found it ("" = its own commit).
  int suspects = 0;
  std::string culpritCommit, culpritAuthor, culpritSubject;
  std::string bisectState;  // "", "running", "found", "stopped"
  RequestOf pr;             // its `branch` is then pr/N (the head) or pr/N/merge
  // A run measuring a release for a deploy's performance check (trigger "perf"): the
  // environment its job measures, whose values it is given. "" for any other run.
  std::string perfEnv;
  // An interleaved measuring run (`perf: {interleave: N}`): "N BASELINE CANDIDATE", the rounds a
  // side and the two releases whose artifacts its rounds are given in turns; "" otherwise.
  std::string perfAb;
  // What its passing hides: "flaky" (a test or job failed, then passed on the same commit),
  // "quarantined" (quarantined tests failed), both comma-separated, or "".
  std::string qualifier;
  bool isRequest() const { return pr.number > 0; }
};

// A new run of `old`'s commit (a re-run, a retry, a requeue), for `trigger`. A request's run
// stays the request's: a fork's gets no more than the fork's did, and a merge is made again
// with the target as it is then.
Run runAgain(const Run& old, std::string trigger);

// The search for the commit that broke a branch when a failing run built several new commits:
// a binary search over them, one bisection run per step.
struct Bisection {
  int64_t runId = 0;                 // the run that broke the branch
  std::vector<std::string> commits;  // oldest first; the last is the breaking run's own
  int good = -1;                     // newest index known to pass (-1: the last passing commit)
  int bad = 0;                       // oldest index known to fail
  int probe = -1;                    // index being built now, -1 when none
  std::optional<int64_t> probeRun;   // the bisection run building it
  int steps = 0;                     // bisection runs started so far
};

struct JobRecord {
  int64_t runId = 0;
  std::string name;
  std::string state;  // runner::JobState name
  int exitCode = -1;
  int attempts = 0;
  std::optional<int64_t> startedAt, finishedAt;
  std::string reason;
  std::string testsJson;      // test report summary, "" when none
  std::string artifactsJson;  // manifest, "" when none
  std::string qualifier;      // as Run::qualifier, for this job
};

// A test case of a project as its reports name it; its id keys its results.
struct TestCaseName {
  int64_t id = 0;
  std::string suite, name, file;
  int64_t firstSeen = 0;
};

// One case's result in an attempt of a job. `outcome` is runner::Outcome's order: 0 passed,
// 1 failed, 2 error, 3 skipped.
struct TestResult {
  int64_t test = 0;
  int outcome = 0;
  int64_t micros = 0;
};

// What a failing case said.
struct TestFailureNote {
  int64_t test = 0;
  std::string kind, message, location;
};

// Every test case of one attempt of one job, with the commit it tested and where it ran.
struct TestExecution {
  int64_t id = 0;
  int64_t runId = 0;
  std::string project, job;
  int attempt = 1;
  std::string commit, branch;
  std::string agent;  // the remote agent ("" for the server's own)
  int64_t at = 0;
  int tests = 0, failed = 0, skipped = 0;  // counted by the report, cases kept or not
  std::vector<TestResult> results;         // by test id
  std::vector<TestFailureNote> failures;
};

struct TestQuery {
  std::string project;
  std::string commit;    // "": every commit's
  int64_t beforeId = 0;  // > 0: pages back
  int limit = 100;
  bool withResults = true;  // false: the counts alone, nothing unpacked
};

// A test seen to fail and pass on one commit.
struct TestFlake {
  std::string project;
  int64_t test = 0;
  int64_t runId = 0;  // the run that showed it: the pass after a failure, or the reverse
  std::string commit;
  std::string how;    // "retry" (a job's own attempts) or "rerun" (two runs of the commit)
  std::string agent;  // where it failed ("" for the server's own)
  int64_t at = 0;
};

// A flaky test whose failures fail no job for a while, with who fixes it and until when.
struct Quarantine {
  int64_t id = 0;
  std::string project;
  int64_t test = 0;
  std::string suite, name;  // read back with the test
  std::string reason, owner;
  int64_t createdAt = 0;
  int64_t expiresAt = 0;
  int cleanNeeded = 10;  // passes in a row that end it
  int cleanRuns = 0;
  std::string state = "active";  // active, released (by hand or clean runs), expired
  std::optional<int64_t> endedAt;
  std::string endedBy, endedWhy;
};

// One notification to send (or sent): retried with backoff, every attempt recorded.
struct Delivery {
  int64_t id = 0;
  int64_t runId = 0;
  std::string event;    // broken, fixed, failed, succeeded
  std::string channel;  // webhook, slack, email
  std::string target;   // URL or e-mail address
  std::string payload;  // request body, or the whole e-mail
  // pending, sent, failed (gave up), superseded (a commit status a newer one replaced first)
  std::string state = "pending";
  int attempts = 0;
  std::string lastError;
  int64_t nextAttemptAt = 0;  // ms since the epoch
  std::optional<int64_t> sentAt;
};

// A branch's schedule, as its pipeline file said when the branch was last built.
struct Schedule {
  std::string project;
  std::string branch;
  std::vector<std::string> crons;
  int64_t nextAt = 0;  // ms since the epoch
};

// An API token; only its hash is stored (auth/tokens.h).
struct Token {
  int64_t id = 0;
  std::string name;  // unique
  std::string role;  // comma-separated roles (auth/roles.h)
  int64_t createdAt = 0;
  std::optional<int64_t> expiresAt;   // refused from then on
  std::optional<int64_t> lastUsedAt;  // kept to the minute
  std::string createdBy;              // the token that made it ("" for the server itself)
  // An agent token's pins (none: any): the only labels it claims jobs with, and the only
  // projects whose jobs it claims.
  std::vector<std::string> agentLabels;
  std::vector<std::string> agentProjects;
  // The person who made it for themselves ("" for a service's token, made by an admin): it
  // acts as them, with at most their roles, and stops when they are disabled.
  std::string owner;
};

// A person who signs in with a name and password (auth/passwords.h); only the password's
// Argon2id hash is kept.
struct User {
  int64_t id = 0;
  std::string name;   // unique
  std::string roles;  // comma-separated roles (auth/roles.h)
  std::string passwordHash;
  bool disabled = false;  // signs in no more; their sessions and tokens stop
  int64_t createdAt = 0;
  std::string createdBy;
};

// A person signed in through the web UI: a cookie holds its secret, the store only its hash.
struct Session {
  std::string id;    // public: shown in lists, used to revoke it (not the secret)
  std::string user;  // the person's name
  int64_t createdAt = 0;
  int64_t seenAt = 0;     // kept to the minute
  int64_t expiresAt = 0;  // refused from then on, however active
  std::string address;    // where it signed in from
  std::string agent;      // the browser's User-Agent, cut short
};
inline Token tokenNamed(std::string name, std::string role) {
  Token t;
  t.name = std::move(name);
  t.role = std::move(role);
  return t;
}

// An immutable release: a version of the project pinned to a passing run's commit and
// artifacts, with its notes. Never changed once written.
struct Release {
  int64_t id = 0;
  std::string project;
  std::string version;
  int64_t runId = 0;
  std::string commit;
  std::string previousVersion;  // "" for the first release
  std::string notes;            // Markdown
  std::string artifactsJson;    // [{"job", "name", "sha256", "size"}]
  std::string changesJson;      // [{"sha", "author", "subject", "time"}]: what it brings
  std::string pipeline;         // the pipeline file at the commit: its deploy method
  std::string createdBy;
  int64_t createdAt = 0;
  std::string branch;  // the run's branch
  // Made from a branch that is not a release branch: a version such as 1.3.0-feature-x.1 that
  // never moves the version line, and is never deployed automatically past the first
  // environment.
  bool prerelease = false;
};

// A value of an environment (hosts, url, …), or a secret, sealed (auth/secret_box).
struct EnvValue {
  std::string project, env, key;
  std::string value;  // sealed when `secret`
  bool secret = false;
};
// The project's build secrets, given to its runs' jobs, are kept as the secrets of this
// environment, whose name no deploy environment can have.
inline constexpr std::string_view kBuildSecrets = "@builds";

enum class DeployState {
  kQueued,
  kWaiting,
  kRunning,
  kSucceeded,
  kFailed,
  kRolledBack,
  kCancelled,
  kInterrupted
};
std::string_view toString(DeployState s);
std::optional<DeployState> parseDeployState(std::string_view s);
bool isFinished(DeployState s);

struct Deploy {
  int64_t id = 0;
  std::string project, env, version;
  DeployState state = DeployState::kQueued;
  std::string reason;       // why it failed, waits or was refused
  std::string fromVersion;  // what the environment ran before ("" for the first deploy)
  bool rollback = false;    // asked for as a rollback (`boucle rollback`)
  bool dryRun = false;
  std::string requestedBy;
  int64_t requestedAt = 0;
  std::optional<int64_t> startedAt, finishedAt;
  std::string approvedBy;
  std::optional<int64_t> approvedAt;
  std::string smokeJson;  // [{"check", "ok", "detail", "ms"}]
  // The environment's `verify` after the smoke checks ("" when it has none): see
  // deploy/verify.h for its fields.
  std::string verifyJson;
  // The environment's `perf` check before anything was touched ("" when it has none): the
  // measuring run, the release compared with, the verdict and its figures.
  std::string perfJson;
  std::string cause;   // "schedule" for an environment's scheduled deploy, else ""
  std::string forced;  // why it was forced past an irreversible migration ("" when it was not)
};

// A release's database migration, applied in an environment and not undone since
// (deploy/migrations.h): recorded as its `up` ends, taken off as its `down` does.
struct AppliedMigration {
  int64_t releaseId = 0;
  std::string version;
  int64_t appliedAt = 0;
};

// A job's performance measurement (runner::Measurement), kept with its run and commit.
struct BenchmarkRecord {
  int64_t runId = 0;
  std::string project, job, name, commit, source;
  std::map<std::string, double> figures;
  std::vector<double> samples;
};

// Something wrong in an environment: opened by a monitor, an Alertmanager alert or a
// person, with the release live when it began and the deploy that brought that release.
struct Incident {
  int64_t id = 0;
  std::string project, env;
  std::string source;       // "monitor", "alertmanager", "manual"
  std::string monitor;      // the monitor or alert's name ("" when opened by hand)
  std::string fingerprint;  // what names the same alert again ("" for none)
  std::string title;
  std::string state = "open";  // "open" or "resolved"
  std::string release;         // live when it began ("" when nothing was)
  std::optional<int64_t> deployId;
  std::string openedBy;
  int64_t openedAt = 0;
  std::string resolvedBy;
  std::optional<int64_t> resolvedAt;
};

// A line of an incident's timeline: opened, note, resolved, deploy, rollback, notified.
struct IncidentEvent {
  int64_t incidentId = 0;
  int64_t at = 0;
  std::string kind, actor, text;
};

// What a monitor watches in one place: a project's environment, one of its monitors (by
// name), a host ("" when the monitor is not per host) and the release live there. A new
// release starts a new series, so each sample names the release it judged.
struct MonitorSeries {
  int64_t id = 0;
  std::string project, env, monitor, host, release;
};

// One probe's verdict: 0 pass, 1 fail, 2 no data (monitor::Verdict's order).
struct MonitorSample {
  int64_t series = 0;
  int64_t atMs = 0;  // when the verdict was known
  int verdict = 0;
  int64_t latencyMs = 0;
};

// One minute of a series (monitor::Rollup's fields).
struct MonitorRollup {
  int64_t series = 0;
  int64_t minuteMs = 0;
  int count = 0, failures = 0, noData = 0, slow = 0;
  int64_t p50Ms = 0, p95Ms = 0, p99Ms = 0;
};

// How many of something there are in a state (/metrics).
struct StateCount {
  std::string project, env;  // env: deploys' and incidents' only
  std::string state;
  int64_t count = 0;
};
enum class Counted { kRuns, kJobs, kDeploys, kOpenIncidents };

// Who did what, when: releases, approvals, deploys, rollbacks, credentials, values.
struct AuditEntry {
  int64_t id = 0;
  int64_t at = 0;
  std::string actor;   // the token's name
  std::string action;  // "release", "deploy", "approve", "rollback", "env.set", …
  std::string project;
  std::string target;  // "1.2.0", "qa", "qa/url", …
  std::string detail;
};

// A job handed to remote agents (`boucle agent`): queued by its run's server, claimed by an
// agent under a lease, reported on with the claim's epoch. A claim advances the epoch, so what
// an agent whose job was given to another sends is told apart and refused.
struct AgentJob {
  int64_t id = 0;
  int64_t runId = 0;
  std::string project;
  std::string job;
  int attempt = 1;
  std::vector<std::string> labels;  // an agent must have every one of them
  std::string spec;                 // what the agent needs to run it (JSON, no secret)
  std::string logPath;              // the log's file, relative to the data folder
  std::string state = "queued";     // queued, running, done, lost, cancelled
  std::string agent;                // who holds or held it
  int64_t epoch = 0;
  int64_t leaseUntil = 0;
  int64_t logSize = 0;               // bytes of its log received
  bool cancel = false;               // its run was cancelled: its agent is to stop it
  std::string result;                // the agent's report at the end (JSON)
  std::vector<std::string> uploads;  // blobs its agent uploaded for it (SHA-256s)
  int64_t queuedAt = 0;
  int64_t startedAt = 0;
  int64_t endedAt = 0;
};

// A remote agent as it last described itself.
struct AgentRecord {
  std::string name;  // its token's name
  std::vector<std::string> labels;
  std::string version;
  std::string host;
  int64_t capacity = 1;
  int64_t running = 0;  // jobs it holds now (listAgents)
  int64_t seenAt = 0;
  bool draining = false;  // takes no new job
};

// Told after each write of a run, a job, a deploy or an incident, with what was written (the
// server's live events, GET /api/events). Called on the writer's thread with the store's lock
// held, in the order of the writes: it must not call the store, and must be quick.
// A server using the database: several share one PostgreSQL. Its id names it for as long as
// it keeps its host and data folder, so a server that restarts knows its own runs.
struct ServerRecord {
  std::string id;
  std::string host;
  int64_t pid = 0;
  int64_t startedAt = 0;
  int64_t seenAt = 0;  // its last heartbeat
};

// Which running runs and deploys were left without a server: those of servers silent since
// `staleBeforeMs` (or gone), of no server, and this store's own server's when `includeOwn`
// (at its start: what its previous life left).
struct Orphans {
  int64_t staleBeforeMs = INT64_MAX;  // the default: every other server counts as gone
  bool includeOwn = true;
  std::vector<int64_t> keep;  // runs left running all the same (carried on: their agents work)
};

class StoreObserver {
 public:
  virtual ~StoreObserver() = default;
  virtual void runChanged(const Run&) {}
  virtual void jobChanged(std::string_view /*project*/, const JobRecord&) {}
  virtual void deployChanged(const Deploy&) {}
  virtual void incidentChanged(const Incident&) {}
};

// Tells several observers, in the order given.
class ObserverTee : public StoreObserver {
 public:
  explicit ObserverTee(std::vector<StoreObserver*> all) : all_(std::move(all)) {}
  void runChanged(const Run& r) override {
    for (auto* o : all_) o->runChanged(r);
  }
  void jobChanged(std::string_view project, const JobRecord& j) override {
    for (auto* o : all_) o->jobChanged(project, j);
  }
  void deployChanged(const Deploy& d) override {
    for (auto* o : all_) o->deployChanged(d);
  }
  void incidentChanged(const Incident& i) override {
    for (auto* o : all_) o->incidentChanged(i);
  }

 private:
  std::vector<StoreObserver*> all_;
};

class Store {
 public:
  virtual ~Store() = default;

  // Set once, before the store is shared between threads.
  void setObserver(StoreObserver* o) { observer_ = o; }
  // The server this store works for: runs and deploys it claims are marked as its own.
  void setServer(std::string id) { server_ = std::move(id); }
  const std::string& server() const { return server_; }

  // Records this server as alive now (its first call registers it). Changes no revision().
  virtual Status heartbeat(const ServerRecord& s) = 0;
  // A server stopping cleanly: its runs and deploys were ended and recorded.
  virtual Status forgetServer(std::string_view id) = 0;
  virtual Result<std::vector<ServerRecord>> listServers() = 0;

  virtual Result<Project> addProject(const Project& p) = 0;  // Conflict if the name exists
  virtual Result<std::vector<Project>> listProjects() = 0;
  virtual Result<Project> getProject(std::string_view name) = 0;  // NotFound
  virtual Status removeProject(std::string_view name) = 0;        // NotFound
  // Replaces the project's credential (all three fields; empty kind removes it). NotFound.
  virtual Status setProjectCredential(std::string_view name, std::string_view kind,
                                      std::string_view user, std::string_view sealed) = 0;

  // Replaces the project's settings (branches, poll_seconds, requeue_interrupted,
  // allow_process_jobs, release_branches, request_builds, fork_secrets, forge, forge_api,
  // forge_repo, forge_token_sealed) by name; the rest stays. NotFound.
  virtual Status updateProjectSettings(const Project& p) = 0;

  // A new run in state queued; its number is the project's next.
  virtual Result<Run> createRun(const Run& r) = 0;
  virtual Result<Run> getRun(int64_t id) = 0;
  virtual Status updateRun(const Run& r) = 0;
  // Newest first; `project` empty = all projects; `beforeId` > 0 pages back.
  virtual Result<std::vector<Run>> listRuns(std::string_view project, int limit,
                                            int64_t beforeId = 0) = 0;
  // The branch's runs not yet finished (queued or running), oldest first.
  virtual Result<std::vector<Run>> unfinishedRuns(std::string_view project,
                                                  std::string_view branch) = 0;
  // Each commit the project built, with the start of the first run that built it.
  virtual Result<std::map<std::string, int64_t>> firstBuilds(std::string_view project) = 0;
  // The branch's latest passed-or-failed run of the whole pipeline before `beforeId`
  // (cancelled, interrupted and partial runs say nothing about the branch as a whole).
  virtual Result<std::optional<Run>> lastJudgedRun(std::string_view project,
                                                   std::string_view branch, int64_t beforeId) = 0;
  // Takes the oldest queued run whose branch has no run running (a branch's runs go in order,
  // different branches and projects at once), marks it running from `nowMs` and returns it.
  virtual Result<std::optional<Run>> claimNextQueued(int64_t nowMs) = 0;
  // Marks the orphaned running runs interrupted (their server crashed or stopped answering)
  // and returns them. Queued runs stay queued.
  virtual Result<std::vector<Run>> interruptUnfinished(std::string_view reason,
                                                       const Orphans& which) = 0;

  virtual Status saveBisection(const Bisection& b) = 0;       // insert or replace by run
  virtual Result<Bisection> getBisection(int64_t runId) = 0;  // NotFound
  // Bisections whose breaking run says "running".
  virtual Result<std::vector<Bisection>> activeBisections() = 0;

  // Polls and webhooks both report branch heads, and may report the same one at once: queues
  // `r` (r.ref = the commit now at r.branch's head) only when that head differs from the one
  // last seen, and records it as seen, in one transaction. Null when it was not new.
  virtual Result<std::optional<Run>> createRunForNewHead(const Run& r) = 0;

  // The head last seen on a branch (by a hook or a poll), if any.
  virtual Result<std::optional<std::string>> lastSeenHead(std::string_view project,
                                                          std::string_view branch) = 0;
  // Records a forge's delivery id; false when it was recorded before (a replay). Ids older
  // than a week are forgotten as new ones come.
  virtual Result<bool> recordHookDelivery(std::string_view project, std::string_view deliveryId,
                                          int64_t atMs) = 0;
  // Forgets a recorded delivery (one whose push could not be queued, so its retry is judged).
  virtual Status forgetHookDelivery(std::string_view project, std::string_view deliveryId) = 0;

  // Replaces the branch's schedule; an empty `crons` removes it.
  virtual Status setSchedule(const Schedule& s) = 0;
  virtual Result<std::vector<Schedule>> dueSchedules(int64_t nowMs) = 0;
  // Moves a due schedule from `s.nextAt` to `nextAt` (none: it fires no more and goes), unless
  // someone moved it since: true for the one caller that may queue its run, so servers sharing
  // a database (or a leader that has just lost the lead) never fire it twice.
  virtual Result<bool> takeSchedule(const Schedule& s, std::optional<int64_t> nextAt) = 0;

  virtual Result<int64_t> addDelivery(const Delivery& d) = 0;
  virtual Result<std::vector<Delivery>> dueDeliveries(int64_t nowMs, int limit) = 0;
  virtual Status updateDelivery(const Delivery& d) = 0;
  virtual Result<std::vector<Delivery>> listDeliveries(int64_t runId) = 0;

  virtual Status saveJob(const JobRecord& j) = 0;  // insert or replace by (run, name)
  virtual Result<std::vector<JobRecord>> listJobs(int64_t runId) = 0;

  // Test cases: each named case's id, in order, the new ones added (a changed file kept).
  virtual Result<std::vector<int64_t>> testIds(std::string_view project,
                                               const std::vector<TestCaseName>& cases) = 0;
  virtual Result<std::vector<TestCaseName>> listTestCases(std::string_view project) = 0;
  // Stores an attempt's results (replacing the same run, job and attempt); its id.
  virtual Result<int64_t> addTestExecution(const TestExecution& e) = 0;
  // Newest first, with their failures.
  virtual Result<std::vector<TestExecution>> testExecutions(const TestQuery& q) = 0;
  // Records flakes (a test and run recorded once); listed newest first from `sinceMs`.
  virtual Status addTestFlakes(const std::vector<TestFlake>& flakes) = 0;
  virtual Result<std::vector<TestFlake>> listTestFlakes(std::string_view project,
                                                        int64_t sinceMs) = 0;
  // Quarantines. addQuarantine: Conflict when the test has an active one.
  virtual Result<Quarantine> addQuarantine(const Quarantine& q) = 0;
  // A run's word on an active quarantine's test: a pass counts once per run, a failure starts
  // the count again; at `cleanNeeded` passes in a row it is released, by boucle. What it is
  // now; nullopt when it was not active (ended meanwhile).
  virtual Result<std::optional<Quarantine>> countQuarantineRun(int64_t id, int64_t runId,
                                                               bool clean, int64_t atMs) = 0;
  // Ends an active quarantine (`state` released or expired); NotFound when it is not active.
  virtual Status endQuarantine(int64_t id, std::string_view state, std::string_view by,
                               std::string_view why, int64_t atMs) = 0;
  // A run's measurements (replacing the same run, job and name).
  virtual Status addBenchmarks(const std::vector<BenchmarkRecord>& records) = 0;
  virtual Result<std::vector<BenchmarkRecord>> runBenchmarks(int64_t runId) = 0;
  // The project's measurements of these commits, newest run first.
  virtual Result<std::vector<BenchmarkRecord>> commitBenchmarks(
      std::string_view project, const std::vector<std::string>& commits) = 0;
  // Newest first; `activeOnly`: those in state active (expired ones may still say active).
  virtual Result<std::vector<Quarantine>> listQuarantines(std::string_view project,
                                                          bool activeOnly) = 0;

  // Conflict when a token of that name exists.
  virtual Result<Token> addToken(const Token& t, std::string_view hash) = 0;
  virtual Result<std::optional<Token>> findToken(std::string_view hash) = 0;
  virtual Result<int> countTokens() = 0;
  virtual Result<std::vector<Token>> listTokens() = 0;      // by name
  virtual Status revokeToken(std::string_view name) = 0;    // deleted; NotFound
  virtual Status touchToken(int64_t id, int64_t atMs) = 0;  // last used

  // People. addUser: Conflict when the name is taken. updateUser replaces roles, password
  // hash and disabled by name (NotFound).
  virtual Result<User> addUser(const User& u) = 0;
  virtual Result<std::optional<User>> findUser(std::string_view name) = 0;
  virtual Result<std::vector<User>> listUsers() = 0;  // by name
  virtual Status updateUser(const User& u) = 0;
  // Sessions, found by the hash of their secret; `user` "" lists everyone's.
  virtual Status addSession(const Session& s, std::string_view hash) = 0;
  virtual Result<std::optional<Session>> findSession(std::string_view hash) = 0;
  virtual Result<std::vector<Session>> listSessions(std::string_view user) = 0;
  virtual Status removeSession(std::string_view id) = 0;  // NotFound
  // Every session of the person (disabled, or their password changed).
  virtual Status removeSessionsOf(std::string_view user) = 0;
  virtual Status touchSession(std::string_view id, int64_t atMs) = 0;

  // Releases. addRelease: Conflict when the project already has that version.
  virtual Result<Release> addRelease(const Release& r) = 0;
  virtual Result<Release> getRelease(std::string_view project, std::string_view version) = 0;
  // Newest first.
  virtual Result<std::vector<Release>> listReleases(std::string_view project, int limit) = 0;

  // An environment's values: set inserts or replaces by (project, env, key).
  virtual Status setEnvValue(const EnvValue& v) = 0;
  virtual Status removeEnvValue(std::string_view project, std::string_view env,
                                std::string_view key) = 0;  // NotFound
  virtual Result<std::vector<EnvValue>> listEnvValues(std::string_view project,
                                                      std::string_view env) = 0;

  virtual Result<Deploy> createDeploy(const Deploy& d) = 0;
  virtual Result<Deploy> getDeploy(int64_t id) = 0;
  virtual Status updateDeploy(const Deploy& d) = 0;
  // The same, only while the stored deploy is still in state `from` (Conflict otherwise): a
  // cancel must not overwrite a deploy the deploy thread has just claimed.
  virtual Status updateDeployFrom(const Deploy& d, DeployState from) = 0;
  // Newest first; `env` empty = every environment of the project.
  virtual Result<std::vector<Deploy>> listDeploys(std::string_view project, std::string_view env,
                                                  int limit) = 0;
  // The migrations applied in `env`, oldest release first.
  virtual Result<std::vector<AppliedMigration>> appliedMigrations(std::string_view project,
                                                                  std::string_view env) = 0;
  // Records (`applied`) or takes off a release's migration in `env`.
  virtual Status setMigrationApplied(std::string_view project, std::string_view env,
                                     const AppliedMigration& m, bool applied) = 0;
  // One deploy at a time per environment: takes the oldest queued deploy whose environment
  // has none running, marks it running from `nowMs`.
  virtual Result<std::optional<Deploy>> claimNextDeploy(int64_t nowMs) = 0;
  // After a crash: orphaned running deploys become interrupted (their environment's lock is
  // released).
  virtual Result<std::vector<Deploy>> interruptDeploys(std::string_view reason,
                                                       const Orphans& which) = 0;

  // Retention: the artifact manifests (JSON) of jobs whose run is unfinished or finished at or
  // after `sinceMs`, and those of every release.
  virtual Result<std::vector<std::string>> recentArtifactManifests(int64_t sinceMs) = 0;
  virtual Result<std::vector<std::string>> releasedArtifactManifests() = 0;

  // Opens an incident (its "opened" event recorded with it).
  virtual Result<Incident> openIncident(const Incident& i) = 0;
  virtual Result<Incident> getIncident(int64_t id) = 0;
  // Newest first; `env` empty = every environment.
  virtual Result<std::vector<Incident>> listIncidents(std::string_view project,
                                                      std::string_view env, int limit) = 0;
  // Every open incident of the project's environment, newest first.
  virtual Result<std::vector<Incident>> listOpenIncidents(std::string_view project,
                                                          std::string_view env) = 0;
  // The project's open incident with this fingerprint, if any.
  virtual Result<std::optional<Incident>> openIncidentWith(std::string_view project,
                                                           std::string_view fingerprint) = 0;
  // Resolves an open incident (Conflict when it is not open), recording the event.
  virtual Status resolveIncident(int64_t id, std::string_view by, int64_t atMs,
                                 std::string_view text) = 0;
  virtual Status addIncidentEvent(const IncidentEvent& e) = 0;
  virtual Result<std::vector<IncidentEvent>> incidentEvents(int64_t id) = 0;  // oldest first

  // The series' id, made at its first use.
  virtual Result<int64_t> monitorSeries(const MonitorSeries& key) = 0;
  // `project` empty = every project's.
  virtual Result<std::vector<MonitorSeries>> listMonitorSeries(std::string_view project) = 0;
  // Raw samples, kept until pruned (48 hours). These writes, and the rollups', do not change
  // revision(): a monitor's heartbeat must not empty every cached answer.
  virtual Status addMonitorSamples(const std::vector<MonitorSample>& samples) = 0;
  // Every series' samples with fromMs <= at < toMs, oldest first.
  virtual Result<std::vector<MonitorSample>> monitorSamples(int64_t fromMs, int64_t toMs) = 0;
  // Stores the rollups (replacing the same minutes) and remembers that minutes before
  // `doneUntilMs` are rolled up, in one transaction.
  virtual Status putMonitorRollups(const std::vector<MonitorRollup>& rollups,
                                   int64_t doneUntilMs) = 0;
  virtual Result<int64_t> monitorRollupsDoneUntil() = 0;  // 0 when never
  // One series' rollups from `fromMs`, oldest first.
  virtual Result<std::vector<MonitorRollup>> monitorRollups(int64_t series, int64_t fromMs) = 0;
  // Forgets samples older than `samplesBeforeMs` and rollups older than `rollupsBeforeMs`.
  virtual Status pruneMonitorData(int64_t samplesBeforeMs, int64_t rollupsBeforeMs) = 0;
  // What the leader's monitors said last (monitor/probe_snapshot.h), for the servers that do
  // not probe: one row, replaced; "" before the first. Neither moves revision().
  virtual Status putMonitorSnapshot(std::string_view json, int64_t atMs) = 0;
  virtual Result<std::string> monitorSnapshot() = 0;

  // Remote agents and their jobs. None of these writes changes revision(): a lease renewed
  // or a log grown changes no cached answer.
  virtual Result<AgentJob> queueAgentJob(const AgentJob& j) = 0;
  virtual Result<AgentJob> getAgentJob(int64_t id) = 0;  // NotFound
  // Takes the oldest queued job whose labels are all among `labels` (and, `labelledOnly`, that
  // names at least one), of one of `projects` (none: any), for `agent`: running, epoch
  // advanced, leased until `leaseUntil`. A draining agent takes none.
  virtual Result<std::optional<AgentJob>> claimAgentJob(std::string_view agent,
                                                        const std::vector<std::string>& labels,
                                                        const std::vector<std::string>& projects,
                                                        bool labelledOnly, int64_t nowMs,
                                                        int64_t leaseUntil) = 0;
  // Extends the leases `agent` holds ((id, epoch) pairs) to `leaseUntil`. Returns the ones it
  // does not hold any more (gone, or another epoch) and those whose run asks them to stop
  // (`cancel`), for the agent to end.
  virtual Result<std::vector<AgentJob>> renewAgentLeases(
      std::string_view agent, const std::vector<std::pair<int64_t, int64_t>>& held,
      int64_t leaseUntil) = 0;
  // Records that the job's log is now `size` bytes long, if it is still running under `epoch`
  // and its log was `from` long: Conflict otherwise (the current size in the message).
  virtual Status growAgentLog(int64_t id, int64_t epoch, int64_t from, int64_t size) = 0;
  // Records that the agent holding the job under `epoch` uploaded this blob for it. Conflict
  // when stale.
  virtual Status noteAgentUpload(int64_t id, int64_t epoch, std::string_view sha256) = 0;
  // Ends a job running under `epoch` with the agent's report: done. Conflict when stale.
  virtual Status endAgentJob(int64_t id, int64_t epoch, std::string_view result, int64_t nowMs) = 0;
  // Running jobs whose lease ended before `nowMs` become lost, and are returned. The jobs of
  // runs that ended without their engine (interrupted: their server died) are tidied: running
  // ones are asked to stop, the others go.
  virtual Result<std::vector<AgentJob>> sweepAgentJobs(int64_t nowMs) = 0;
  // This server's running runs (or no server's) that have jobs on remote agents: at its start,
  // the runs its previous life left that agents may still be working for.
  virtual Result<std::vector<Run>> runsOnAgents() = 0;
  // Every job of the run on remote agents, in any state.
  virtual Result<std::vector<AgentJob>> agentJobsOfRun(int64_t runId) = 0;
  // The run's jobs that are not queued any more (running, or ended and not yet forgotten).
  virtual Result<std::vector<AgentJob>> startedAgentJobs(int64_t runId) = 0;
  // The run's engine took in the job's end: the row goes (an agent reporting on it afterwards
  // is refused as stale).
  virtual Status forgetAgentJob(int64_t id) = 0;
  // The run's queued jobs are cancelled; its running ones are asked to stop.
  virtual Status cancelAgentJobs(int64_t runId) = 0;
  // Inserts or updates an agent (its `draining` and `running` are not written); returns
  // whether it is draining.
  virtual Result<bool> agentSeen(const AgentRecord& a) = 0;
  virtual Result<std::vector<AgentRecord>> listAgents() = 0;  // by name, with `running`
  virtual Status setAgentDraining(std::string_view name, bool draining) = 0;  // NotFound

  // Every project's runs, jobs or deploys by state, or open incidents by environment.
  virtual Result<std::vector<StateCount>> countByState(Counted what) = 0;

  virtual Status addAudit(const AuditEntry& e) = 0;
  // Newest first; `project` empty = all.
  virtual Result<std::vector<AuditEntry>> listAudit(std::string_view project, int limit) = 0;

  // Changes whenever anything is written: readers cache answers derived from the store and
  // keep them while it stays the same.
  virtual uint64_t revision() = 0;

  // "ok", or what the database's own check found.
  virtual Result<std::string> integrityCheck() = 0;

  // Gives back the memory its caches hold (a quiet server); they fill again as it is used.
  virtual void releaseMemory() {}

 protected:
  StoreObserver* observer_ = nullptr;
  std::string server_;
};

// Opens the SQLite store at `path`, applying pending schema migrations (each in a
// transaction).
Result<std::unique_ptr<Store>> openSqliteStore(const std::string& path);

// Opens the PostgreSQL store at `url` (postgres://USER@HOST/DB, no password in it), applying
// pending migrations. Several servers may share it.
Result<std::unique_ptr<Store>> openPostgresStore(const std::string& url);

// Opens the store a `--db` option names: "sqlite:PATH", or a postgres:// (postgresql://) URL.
Result<std::unique_ptr<Store>> openStore(const std::string& spec);
// Whether `spec` names a store openStore can open ("" when it can), without opening it.
std::string checkStoreSpec(const std::string& spec);

}  // namespace boucle::store
