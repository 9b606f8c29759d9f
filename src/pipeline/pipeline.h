#pragma once
// The model of a `.boucle.yml` file: what the parser produces and the rest of boucle consumes.
// The format is documented in docs/pipeline-file.md; keep both in step.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/duration.h"
#include "core/names.h"
#include "core/status.h"

namespace boucle::pipeline {

// 1-based position in the source file; line 0 means "unknown" (e.g. a missing section).
struct SourcePos {
  int line = 0;
  int column = 0;
};

enum class Isolation { kProcess, kSandbox, kContainer };
enum class Shell { kSh, kBash };

std::string_view toString(Isolation v);
std::optional<Isolation> parseIsolation(std::string_view s);
std::string_view toString(Shell v);
std::optional<Shell> parseShell(std::string_view s);

struct Job {
  std::string name;
  SourcePos pos;
  std::vector<std::string> commands;  // `run`: one string or a list, run in order, stop at first
  Shell shell = Shell::kSh;
  std::vector<std::string> needs;
  std::vector<SourcePos> needsPos;                       // parallel to `needs`, for error messages
  std::vector<std::pair<std::string, std::string>> env;  // in file order
  Millis timeout = std::chrono::hours(1);
  std::vector<std::string> artifacts;  // workspace-relative globs
  std::vector<std::string> junit;      // workspace-relative globs
  std::vector<std::string> benchmark;  // performance reports (runner/benchmark_report.h)
  // Unset: the runner's default (the server sandboxes its jobs, `boucle run` does not).
  std::optional<Isolation> isolation;
  bool network = true;  // false implies the sandbox
  // Folders kept between runs of the project's branch: "~/.npm" (in the job's home) or
  // "node_modules" (in the workspace). Sandboxed jobs only.
  std::vector<std::string> cache;
  int retry = 0;                  // extra attempts after a failure (not after a timeout or cancel)
  std::vector<std::string> only;  // branch globs; empty = every branch
  std::vector<std::string> except;  // branch globs
  bool checkout = true;             // false: start in an empty workspace (no source copy)
  bool allowFailure = false;        // a failure is reported but does not fail the run
  // `runs-on`: labels a remote agent must all have to run the job. Empty: wherever the server
  // runs jobs (its embedded agent, or any remote agent when it has none).
  std::vector<std::string> runsOn;

  // Whether the job runs for this branch according to only/except.
  bool buildsOn(std::string_view branch) const;
};

enum class VersionScheme { kSemver, kCalver };
enum class NotesStyle { kConventional, kCommits, kNone };

struct ReleaseSpec {
  VersionScheme version = VersionScheme::kSemver;
  NotesStyle notes = NotesStyle::kConventional;
  std::vector<std::string> branches;   // passing runs of these branches are released automatically
  std::vector<std::string> tags;       // tag globs that are released automatically, e.g. "v*"
  std::vector<std::string> artifacts;  // "job:glob" filters; empty = all artifacts of the run
  SourcePos pos;
};

// A weekly time window such as "Sat 02:00-05:00" or "Mon-Fri 22:00-06:00" (server local time).
struct Window {
  unsigned days = 0;  // bit 0 = Monday … bit 6 = Sunday
  int startMinute = 0;
  int endMinute = 0;  // may be <= start: the window then runs past midnight
  std::string text;
};
std::optional<Window> parseWindow(std::string_view text, std::string* error);

// What `boucle server` watches in each environment that runs a release (rendered with that
// environment's values, per host for ssh and ansible environments).
enum class MonitorKind {
  kHttp,        // GET target: status, contains, within
  kTcp,         // host:port accepts a connection
  kCommand,     // `run:` a command on the server, the values in its environment
  kPrometheus,  // target is a Prometheus server queried with `query` (PromQL), or without a
                // query an endpoint that must answer Prometheus' text format
};

std::string_view toString(MonitorKind v);  // "http", "tcp", "run", "prometheus"

struct Monitor {
  // What incidents, samples and metrics call it: `name:`, or the kind and target as written
  // ("http {{ env.url }}/health"), so it stays the same from one release to the next.
  std::string name;
  MonitorKind kind = MonitorKind::kHttp;
  std::string target;  // URL, host:port or command; may contain {{ templates }}
  Millis every = std::chrono::seconds(30);
  Millis timeout = std::chrono::seconds(10);
  int expectStatus = 200;
  std::string expectContains;
  std::optional<Millis> expectWithin;     // slower is a failure
  std::string query;                      // PromQL
  std::optional<double> below, above;     // the query's value must be below / above this
  int failAfter = 3;                      // consecutive failures that open an incident
  int recoverAfter = 2;                   // consecutive passes that resolve it
  std::optional<double> sloAvailability;  // percent, e.g. 99.9
  std::optional<Millis> sloP95;
  Millis sloWindow = std::chrono::hours(24 * 30);
  SourcePos pos;
};

struct Environment {
  std::string name;
  SourcePos pos;
  bool autoDeploy = false;
  std::string after;  // the environment a release must have succeeded in first
  SourcePos afterPos;
  std::vector<std::string> approval;   // roles or users ("ops", "user:alice")
  std::vector<std::string> deployers;  // who may ask for a deploy here (empty: any non-viewer)
  bool fourEyes = false;               // the approver may not be who asked for the deploy
  std::optional<Window> window;
  // Watched after the deploy's smoke checks: the release's monitors, and these checks, for
  // `duration`; a failure rolls back as a failed smoke check does.
  struct Verify {
    Millis duration{};
    std::vector<Monitor> checks;
    SourcePos pos;
  };
  std::optional<Verify> verify;
  // A performance check before a release comes here: `job` of the release's pipeline runs
  // against the environment before this one (`after`, which runs the candidate), and its
  // figure is compared with the one measured for the release this environment runs now.
  struct Perf {
    std::string job;
    std::string figure = "p95";  // runner::Measurement's figures
    double maxRegression = 0.10;
    double floor = 0;  // in the figure's unit (ms for times)
    std::string name;  // one measurement only ("" every one)
    double alpha = 0.05;
    // Rounds a side of A/B/A/B: when set, one measuring run times the release running here
    // (A) and the candidate (B) in turns, the job given each one's artifacts, instead of
    // comparing with the figures measured when the running release came.
    int interleave = 0;
    SourcePos pos;
  };
  std::optional<Perf> perf;
  // Wiped before each deploy (its folder, or the release folders on its hosts): every deploy
  // there is a first install.
  bool blank = false;
  // Cron expressions (server local time): the newest release that may come here is deployed
  // at each, e.g. every night to a blank environment.
  std::vector<std::string> schedule;
  SourcePos schedulePos;
};

enum class Driver { kLocal, kSsh, kAnsible, kCommand };
std::string_view toString(Driver v);

enum class StrategyKind { kAllAtOnce, kRolling, kBlueGreen };
struct Strategy {
  StrategyKind kind = StrategyKind::kAllAtOnce;
  int batch = 1;  // hosts at a time when rolling
};

struct ConfigFile {
  std::string templatePath;
  std::string to;
};

enum class CheckKind { kHttp, kTcp, kCommand };

struct SmokeCheck {
  CheckKind kind = CheckKind::kHttp;
  std::string target;  // URL, host:port or command; may contain {{ templates }}
  int expectStatus = 200;
  std::string expectContains;
  Millis within = std::chrono::seconds(10);
  int retries = 0;
  SourcePos pos;
};

enum class OnFailure { kRollback, kStop };

// The database change a release brings: `up` runs once per deploy before its steps, `down`
// undoes it when the environment goes back past this release. Without `down` the release
// must say `irreversible: true`, and going back past it is refused (or forced, with a reason).
struct Migration {
  std::string up;
  std::string down;
  bool irreversible = false;
  SourcePos pos;
};

struct DeploySpec {
  Driver driver = Driver::kLocal;
  std::string hosts;
  Strategy strategy;
  std::vector<ConfigFile> config;
  std::vector<std::string> steps;
  std::vector<SmokeCheck> smoke;
  OnFailure onFailure = OnFailure::kRollback;
  std::string playbook;  // ansible driver
  std::string command;   // command driver
  Millis timeout = std::chrono::minutes(30);
  std::optional<Migration> migrate;
  SourcePos pos;
};

enum class NotifyChannel { kWebhook, kSlack, kEmail };

struct Notification {
  std::vector<std::string> on;  // event names, see kNotifyEvents
  NotifyChannel channel = NotifyChannel::kWebhook;
  std::vector<std::string> targets;  // URL(s) or e-mail addresses
  SourcePos pos;
};

extern const std::vector<std::string_view> kNotifyEvents;

struct Pipeline {
  int version = 1;
  std::vector<Job> jobs;              // in file order
  std::vector<std::string> schedule;  // cron expressions: extra runs of the branch's head
  std::optional<ReleaseSpec> release;
  std::vector<Environment> environments;  // in promotion order
  std::optional<DeploySpec> deploy;
  std::vector<Monitor> monitors;
  std::vector<Notification> notifications;

  const Job* findJob(std::string_view name) const;
  // Whether any job starts from a copy of the commit's files (else no checkout is made).
  bool checksOut() const;
};

// Keeps only the `wanted` jobs and, transitively, the jobs they need (an empty list keeps
// everything). NotFound names a job that is not in the pipeline.
Status selectJobs(Pipeline& p, const std::vector<std::string>& wanted);

// What is wrong with a `cache:` path ("" when nothing): "~/rel" or a workspace-relative "rel",
// without "." or ".." components, naming a folder below the home or the workspace.
std::string cachePathProblem(std::string_view path);

// Job, environment and environment-value names name files and folders (logs, workspaces, an
// environment's releases): core/names.h says which are valid.
using boucle::validName;

}  // namespace boucle::pipeline
