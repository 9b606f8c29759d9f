// `boucle server`: wires the store, the embedded agent and the HTTP API together.
#include <fcntl.h>
#include <fmt/core.h>
#include <malloc.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <thread>

#include "api/routes.h"
#include "auth/initial_token.h"
#include "auth/secret_box.h"
#include "auth/tokens.h"
#include "cli/commands.h"
#include "cli/store_spec.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/glob.h"
#include "core/log.h"
#include "core/wakeup.h"
#include "deploy/deployer.h"
#include "deploy/release_flow.h"
#include "monitor/incidents.h"
#include "monitor/verification.h"
#include "monitor/watcher.h"
#include "notify/messages.h"
#include "notify/notifier.h"
#include "notify/status_publisher.h"
#include "os/files.h"
#include "pipeline/parser.h"
#include "scheduler/agent.h"
#include "scheduler/perf_runs.h"
#include "scheduler/poller.h"
#include "scheduler/presence.h"
#include "store/postgres/bus.h"
#include "store/postgres/leadership.h"
#include "store/store.h"
#include "vault/releaser.h"
#include "vault/retention.h"

namespace boucle::cli {
namespace fs = std::filesystem;

namespace {

struct ServerArgs {
  std::string smtp = "smtp://127.0.0.1:25";
  std::string mailFrom = "boucle@localhost";
  std::string data = "boucle-data";
  std::string listen = "127.0.0.1:8080";
  bool publicRead = false;
  size_t parallelism = 2;
  size_t maxRuns = 2;
  std::string keepArtifacts;  // a duration; "" keeps them all
  std::string artifactsMax;   // a size such as 20G; ""
  std::string maxLogSize = "1G";
  std::string ui;  // the web UI's built files; "" = the default places
  std::vector<std::string> allowedHosts;
  size_t maxConnections = 512;
  size_t maxStreamsPerClient = 64;
  int clientTimeout = 60;
  std::string gitTimeout = "10m";
  std::string db;      // "" = sqlite:DATA/boucle.db
  std::string shared;  // runs' logs, artifacts, deploy logs, secret.key; "" = DATA
  std::string serverTimeout = "60s";
  bool localAgent = true;
  std::string agentTimeout = "60s";
  std::string url;  // where people reach the server; "" = http://LISTEN
};

// The web UI's folder: --ui, else share/boucle/ui beside an installed binary, else this source
// tree's ui/dist. "" when none holds an index.html (the API works without it).
fs::path findUi(const std::string& given) {
  std::error_code ec;
  if (!given.empty()) return fs::exists(fs::path(given) / "index.html", ec) ? fs::path(given) : "";
  std::vector<fs::path> candidates;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(self.parent_path().parent_path() / "share/boucle/ui");
#ifdef BOUCLE_UI_DIR
  candidates.emplace_back(BOUCLE_UI_DIR);
#endif
  for (const auto& c : candidates) {
    if (fs::exists(c / "index.html", ec)) return c;
  }
  return "";
}

// The first start makes an admin token and shows it once (auth/initial_token.h); a later one
// removes its file once another admin token exists.
Status ensureAdminToken(store::Store& store, const fs::path& data) {
  auto token = auth::ensureInitialAdminToken(store, data);
  if (!token.ok()) return token.status();
  if (!token->empty()) {
    fmt::print("Initial admin token (shown once; also in {}):\n\n  {}\n\n",
               (data / auth::kInitialTokenFile).string(), *token);
    std::fflush(stdout);
  }
  auto retired = auth::retireInitialTokenFile(store, data);
  if (!retired.ok()) return retired.status();
  if (*retired)
    logInfo("removed " + (data / auth::kInitialTokenFile).string() +
            ": another admin token exists");
  return Status::Ok();
}

// DATA/server.lock, held (flock) for as long as this process lives, with its pid inside.
Result<os::Fd> lockDataFolder(const fs::path& data) {
  fs::path file = data / "server.lock";
  os::Fd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return errnoStatus("open " + file.string(), errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    auto holder = os::readFile(file);
    std::string pid = holder.ok() ? holder.value() : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return Status::Conflict("another boucle server is using " + data.string() +
                            (pid.empty() ? "" : " (pid " + pid + ")") +
                            ": one server per data folder");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
    return errnoStatus("write " + file.string(), errno);
  }
  return fd;
}

// Another server's news (see `bus` below): a job queued for the agents or news of one, a run
// to cancel if it is this server's, a live event for this server's clients, a deploy that
// changed what the monitors watch.
void hearNews(std::string_view news, scheduler::AgentBoard& board, api::EventHub& events,
              scheduler::Agent& agent, monitor::Watcher& watcher) {
  if (news.starts_with("event ")) {
    // "event TYPE PROJECT\nJSON"
    auto newline = news.find('\n');
    if (newline == std::string_view::npos) return;
    auto head = news.substr(6, newline - 6);
    auto space = head.find(' ');
    if (space == std::string_view::npos) return;
    events.heard(head.substr(0, space), head.substr(space + 1),
                 std::string(news.substr(newline + 1)));
  } else if (news == "replan") {
    watcher.replan();  // a deploy another server ran changed what runs where
  } else if (news.starts_with("cancel ")) {
    int64_t id = 0;
    auto digits = news.substr(7);
    if (std::from_chars(digits.data(), digits.data() + digits.size(), id).ec == std::errc() &&
        agent.cancelHere(id))
      logInfo("run " + std::to_string(id) + ": cancelled through another server");
  } else {
    board.heard(news);
  }
}

// This server's name among those sharing its database: its host and a random part made at its
// first start and kept in DATA/server-id.
Result<std::string> serverIdFor(const fs::path& data, const std::string& host) {
  fs::path file = data / "server-id";
  auto kept = os::readFile(file);
  std::string id = kept.ok() ? kept.value() : "";
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  if (!id.empty()) return id;
  id = host + "-" + auth::randomHex(6);
  if (auto st = os::writeFileAtomic(file, id + "\n"); !st.ok()) return st;
  return id;
}

// Projects that ask for it get their interrupted runs queued again, as the same commit and
// jobs (bisection runs are resumed by the agent instead; a deploy's measuring run belonged to a
// deploy that is itself interrupted).
void requeueInterrupted(store::Store& store, const std::vector<store::Run>& runs) {
  for (const auto& run : runs) {
    if (run.bisectOf || !run.perfEnv.empty()) continue;
    auto project = store.getProject(run.project);
    if (!project.ok() || !project->requeueInterrupted) continue;
    store::Run again = store::runAgain(run, "requeue");
    again.onlyJobs = run.onlyJobs;
    auto queued = store.createRun(again);
    if (!queued.ok()) {
      logError("requeue of run " + std::to_string(run.id) + ": " + queued.status().message());
      continue;
    }
    logInfo("run " + std::to_string(run.id) + " of " + run.project +
            " was interrupted: queued again as run " + std::to_string(queued->id));
  }
}

int serve(const ServerArgs& a) {
  // glibc gives each thread that allocates an arena of its own, up to eight per core; what the
  // threads freed stays spread over them. Two (one per core of a small machine) keep a quiet
  // server's heap 1 MB smaller after a run at no cost in speed measured (bench/footprint.py).
  ::mallopt(M_ARENA_MAX, 2);
  vault::RetentionPolicy retention;
  if (!a.keepArtifacts.empty()) {
    retention.maxAge = parseDuration(a.keepArtifacts);
    if (!retention.maxAge) {
      fmt::print(stderr, "boucle server: --keep-artifacts: a duration such as 30d\n");
      return kExitUsage;
    }
  }
  if (!a.artifactsMax.empty()) {
    retention.maxBytes = parseSize(a.artifactsMax);
    if (!retention.maxBytes) {
      fmt::print(stderr, "boucle server: --artifacts-max: a size such as 20G\n");
      return kExitUsage;
    }
  }
  auto maxLog = parseSize(a.maxLogSize);
  if (!maxLog) {
    fmt::print(stderr, "boucle server: --max-log-size: a size such as 100M (0: no limit)\n");
    return kExitUsage;
  }
  fs::path ui = findUi(a.ui);
  if (!a.ui.empty() && ui.empty()) {
    fmt::print(stderr, "boucle server: --ui {}: no index.html there (build the UI: make ui)\n",
               a.ui);
    return kExitUsage;
  }
  auto colon = a.listen.rfind(':');
  if (colon == std::string::npos) {
    fmt::print(stderr, "boucle server: --listen expects ADDRESS:PORT\n");
    return kExitUsage;
  }
  api::ServerOptions http;
  http.address = a.listen.substr(0, colon);
  http.allowedHosts = a.allowedHosts;
  http.maxConnections = a.maxConnections;
  http.maxStreamsPerClient = a.maxStreamsPerClient;
  http.clientTimeoutSeconds = a.clientTimeout;
  try {
    http.port = static_cast<uint16_t>(std::stoi(a.listen.substr(colon + 1)));
  } catch (...) {
    fmt::print(stderr, "boucle server: bad port in --listen {}\n", a.listen);
    return kExitUsage;
  }
  // git, run by the agent and the poller, must never wait for a password on a terminal, and
  // may only use the ordinary transports: `ext::` and friends would run commands from a URL.
  ::setenv("GIT_TERMINAL_PROMPT", "0", 1);
  ::setenv("GIT_ALLOW_PROTOCOL", "file:git:http:https:ssh", 1);
  // A remote that sends less than 1 KB/s for a minute is given up (ssh has its keep-alives).
  ::setenv("GIT_HTTP_LOW_SPEED_LIMIT", "1000", 1);
  ::setenv("GIT_HTTP_LOW_SPEED_TIME", "60", 1);
  if (auto why = a.db.empty() ? "" : store::checkStoreSpec(a.db); !why.empty()) {
    fmt::print(stderr, "boucle server: --db: {}\n", why);
    return kExitUsage;
  }
  fs::path data = fs::absolute(a.data);
  std::error_code ec;
  fs::create_directories(data, ec);
  // Its real path: the sandbox hides the folder from jobs by that path, and a path through a
  // symlink or "..", hidden as given, could leave the real one in view.
  if (auto real = fs::canonical(data, ec); !ec) data = real;
  ::chmod(data.c_str(), 0700);
  // What every server of a team must read: runs' logs and records, artifacts, deploy logs and
  // the key that seals credentials. Its real path too: jobs must not see it either.
  fs::path sharedDir = data;
  if (!a.shared.empty()) {
    sharedDir = fs::absolute(a.shared);
    fs::create_directories(sharedDir, ec);
    if (auto real = fs::canonical(sharedDir, ec); !ec) sharedDir = real;
    if (!fs::is_directory(sharedDir, ec)) {
      fmt::print(stderr, "boucle server: --shared: cannot make the folder {}\n",
                 sharedDir.string());
      return kExitFailed;
    }
    ::chmod(sharedDir.c_str(), 0700);
  }
  // One server per data folder: a second one would mark the first one's runs interrupted and
  // end its deploy steps. The lock goes with the process, however it ends.
  auto lock = lockDataFolder(data);
  if (!lock.ok()) {
    fmt::print(stderr, "boucle server: {}\n", lock.status().message());
    return kExitFailed;
  }
  // Without --db, the database this folder's server used last: forgetting --db after a move
  // to PostgreSQL must not bring the old SQLite file back to life.
  std::string spec = storeSpecFor(data, a.db);
  auto store = store::openStore(spec);
  if (store.ok()) {
    bool isDefault = spec == "sqlite:" + (data / "boucle.db").string();
    if (auto st = rememberStoreSpec(data, isDefault ? "" : spec); !st.ok()) store = st;
  }
  if (!store.ok()) {
    fmt::print(stderr, "boucle server: {}\n", store.status().message());
    return kExitFailed;
  }
  // Servers on one PostgreSQL database hear each other's news (store/postgres/bus.h). Declared
  // before all it tells and hears, and stopped before they are.
  std::unique_ptr<store::postgres::Bus> bus;
  // Every write of a run, job, deploy or incident from here on is a live event.
  api::EventHub events;
  // And each change of a run's state is set as a commit status on its forge.
  notify::StatusPublisher statuses(**store, a.url);
  store::ObserverTee observers({&events, &statuses});
  (*store)->setObserver(&observers);
  // Who this server is to the others sharing the database: its host and a name made once and
  // kept in DATA/server-id (package installs share a data path, hosts may share a name), the
  // same across restarts, so what its previous life left running is its own to end now.
  auto silentFor = parseDuration(a.serverTimeout);
  if (!silentFor || silentFor->count() <= 0) {
    fmt::print(stderr, "boucle server: --server-timeout: not a duration: {}\n", a.serverTimeout);
    return kExitUsage;
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  bool shared = spec.starts_with("postgres");
  auto serverId = serverIdFor(data, host);
  if (!serverId.ok()) {
    fmt::print(stderr, "boucle server: {}\n", serverId.status().message());
    return kExitFailed;
  }
  store::ServerRecord me{*serverId, host, ::getpid(), nowMs(), nowMs()};
  (*store)->setServer(me.id);
  // On SQLite this is the only server; on PostgreSQL, others' live runs are theirs.
  store::Orphans orphansAtStart;
  if (shared) orphansAtStart.staleBeforeMs = nowMs() - silentFor->count();
  if (auto st = (*store)->heartbeat(me); !st.ok()) {
    fmt::print(stderr, "boucle server: {}\n", st.message());
    return kExitFailed;
  }
  // Runs whose jobs were all on remote agents go on where they were: the agents still run them.
  auto carried = scheduler::runsToCarryOn(**store);
  for (const auto& r : carried) orphansAtStart.keep.push_back(r.id);
  auto interrupted = (*store)->interruptUnfinished(
      "the server stopped while the run was in progress", orphansAtStart);
  if (!interrupted.ok()) {
    fmt::print(stderr, "boucle server: {}\n", interrupted.status().message());
    return kExitFailed;
  }
  if (!interrupted->empty())
    logInfo(std::to_string(interrupted->size()) + " unfinished run(s) marked interrupted");
  requeueInterrupted(**store, *interrupted);
  if (auto st = ensureAdminToken(**store, data); !st.ok()) {
    fmt::print(stderr, "boucle server: {}\n", st.message());
    return kExitFailed;
  }

  // Signals are taken by one thread with sigwait; every other thread starts with them blocked.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stopSignals, s);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // A data folder moving to a shared one brings its key: the credentials it sealed stay open.
  auto secrets = auth::SecretBox::openOrCreate(
      sharedDir / "secret.key", sharedDir != data ? data / "secret.key" : fs::path());
  if (!secrets.ok()) {
    fmt::print(stderr, "boucle server: {}\n", secrets.status().message());
    return kExitFailed;
  }
  // Servers sharing a PostgreSQL database choose one to poll, fire schedules, probe and send
  // notifications; on SQLite this server is the only one. Declared before what asks it, so it
  // outlives them.
  std::unique_ptr<store::postgres::Leadership> leadership;
  std::function<bool()> leads;
  if (shared) {
    leadership = std::make_unique<store::postgres::Leadership>(spec);
    leads = [&leadership] { return leadership->leads(); };
  }
  notify::Notifier notifier(**store, notify::makeCurlSender({a.smtp, a.mailFrom}));
  if (leads) notifier.setLeads(leads);
  notifier.setSecrets(&*secrets);
  statuses.setQueued([&notifier] { notifier.wake(); });
  auto agentSilence = parseDuration(a.agentTimeout);
  if (!agentSilence || agentSilence->count() < 1000) {
    fmt::print(stderr, "boucle server: --agent-timeout: a duration of at least 1s\n");
    return kExitUsage;
  }
  scheduler::AgentBoard board;
  scheduler::AgentOptions agentOptions;
  if (shared) {
    bus = std::make_unique<store::postgres::Bus>(spec, me.id);
    board.setRelay([&bus](std::string news) { bus->tell(std::move(news)); });
    events.setRelay(
        [&bus](std::string_view type, std::string_view project, const std::string& json) {
          bus->tell(fmt::format("event {} {}\n{}", type, project, json));
        });
    agentOptions.cancelElsewhere = [&bus](int64_t run) {
      bus->tell("cancel " + std::to_string(run));
    };
  }
  agentOptions.board = &board;
  agentOptions.localJobs = a.localAgent;
  agentOptions.dataDir = data;
  agentOptions.sharedDir = sharedDir;
  *maxLog = std::min<uint64_t>(*maxLog, INT64_MAX);  // the agents' log offsets are signed
  agentOptions.maxLogBytes = *maxLog;
  agentOptions.parallelism = a.parallelism;
  agentOptions.maxRuns = a.maxRuns;
  if (auto t = parseDuration(a.gitTimeout); t && t->count() > 0) {
    agentOptions.gitTimeout = *t;
  } else {
    fmt::print(stderr, "boucle server: --git-timeout: a duration such as 10m\n");
    return kExitUsage;
  }
  agentOptions.secrets = &*secrets;
  // Bisection runs are the server's own business: the team hears of their outcome through the
  // breaking run's "broken" notification.
  auto queue = [&](const store::Run& run, const pipeline::Pipeline* p, const std::string& only) {
    // A fork's request names its own notifications in its own file: a stranger's, who must
    // not make the server send mail or requests where they like.
    if (!p || run.pr.fork) return;
    auto n = notify::queueNotifications(**store, run, p->notifications, a.mailFrom, nowMs(), only);
    if (!n.ok()) logError("notify: " + n.status().message());
    if (n.ok() && *n > 0) notifier.wake();
  };
  // An incident is told with the rules of the release live when it began.
  auto tellIncident = [&](const store::Incident& i, const std::string& event) {
    if (i.release.empty()) return;
    auto rel = (*store)->getRelease(i.project, i.release);
    if (!rel.ok()) return;
    auto parsed = pipeline::parsePipeline(rel->pipeline);
    if (!parsed.ok() || parsed.pipeline.notifications.empty()) return;
    auto n = notify::queueIncidentNotifications(**store, i, event, rel->runId,
                                                parsed.pipeline.notifications, a.mailFrom, nowMs());
    if (!n.ok()) return logError("notify: " + n.status().message());
    if (*n == 0) return;
    if (auto st = (*store)->addIncidentEvent(
            {i.id, nowMs(), "notified", "boucle",
             std::to_string(*n) + " notification(s) of '" + event + "' queued"});
        !st.ok())
      logError("incident " + std::to_string(i.id) + ": " + st.message());
    notifier.wake();
  };
  monitor::WatcherOptions watcherOptions;
  watcherOptions.dataDir = data;
  watcherOptions.sharedDir = sharedDir;
  watcherOptions.secrets = &*secrets;
  watcherOptions.onIncident = tellIncident;
  watcherOptions.onStateChange = [&](const monitor::ProbeStatus& s) { events.monitorChanged(s); };
  watcherOptions.leads = leads;
  monitor::Watcher watcher(**store, watcherOptions);
  deploy::DeployerOptions deployerOptions;
  deployerOptions.orphansAtStart = orphansAtStart;
  deployerOptions.dataDir = data;
  deployerOptions.sharedDir = sharedDir;
  deployerOptions.secrets = &*secrets;
  deployerOptions.onChange = [&](const store::Deploy& d) {
    // What runs there changed (a deploy ended, or its release is now under verification):
    // watched anew, here and by the leader if another server leads.
    watcher.replan();
    if (bus) bus->tell("replan");
    if (store::isFinished(d.state)) {
      // The environment's open incidents hear of it.
      if (auto st = monitor::noteDeploy(**store, d); !st.ok())
        logError("incidents: " + st.message());
    }
    // The release's own pipeline file says who hears of its deploys.
    auto rel = (*store)->getRelease(d.project, d.version);
    if (!rel.ok()) return;
    auto parsed = pipeline::parsePipeline(rel->pipeline);
    if (!parsed.ok() || parsed.pipeline.notifications.empty()) return;
    auto n = notify::queueDeployNotifications(**store, d, rel->runId, parsed.pipeline.notifications,
                                              a.mailFrom, nowMs());
    if (!n.ok()) logError("notify: " + n.status().message());
    if (n.ok() && *n > 0) notifier.wake();
  };
  deployerOptions.verify = [&](const deploy::VerifyJob& job) {
    return monitor::verifyDeploy(job, data);
  };
  scheduler::Agent* runs = nullptr;  // made below; the deploy threads start after it
  deployerOptions.perf = scheduler::perfRunner(**store, [&] {
    if (runs) runs->wake();
  });
  deploy::Deployer deployer(**store, deployerOptions);
  deploy::ReleaseFlow releases(**store, deployer);
  agentOptions.onFinished = [&](const store::Run& run, const pipeline::Pipeline* p) {
    // A deploy's measuring run is heard of through the deploy.
    if (!run.bisectOf && run.perfEnv.empty()) queue(run, p, "");
    releases.runFinished(run);
  };
  agentOptions.onBisected = [&](const store::Run& run, const pipeline::Pipeline* p) {
    queue(run, p, "broken");
  };
  scheduler::Agent agent(**store, agentOptions);
  runs = &agent;
  agent.carryOn(carried);
  // Their agents get a whole timeout to call again before their jobs count as lost: the server
  // was away, not they.
  for (const auto& run : carried) {
    auto jobs = (*store)->agentJobsOfRun(run.id);
    if (!jobs.ok()) continue;
    for (const auto& j : *jobs) {
      if (j.state != "running") continue;
      if (auto renewed = (*store)->renewAgentLeases(j.agent, {{j.id, j.epoch}},
                                                    nowMs() + agentSilence->count());
          !renewed.ok())
        logError("agents: " + renewed.status().message());
    }
  }
  api::ApiContext ctx;
  ctx.store = store->get();
  ctx.agent = &agent;
  ctx.dataDir = data;
  ctx.sharedDir = sharedDir;
  ctx.severalServers = shared;
  ctx.maxLogBytes = *maxLog;
  ctx.secureCookies = a.url.starts_with("https://");
  ctx.publicRead = a.publicRead;
  ctx.secrets = &*secrets;
  ctx.deployer = &deployer;
  ctx.uiDir = ui;
  ctx.releases = &releases;
  ctx.onIncident = tellIncident;
  ctx.watcher = &watcher;
  ctx.events = &events;
  ctx.board = &board;
  ctx.agentTimeout = *agentSilence;
  std::string error;
  auto api = api::makeApi(ctx);
  http.streaming = api.streaming;
  auto server = api::HttpServer::create(http, api.handler, &error);
  if (!server) {
    fmt::print(stderr, "boucle server: {}\n", error);
    return kExitFailed;
  }
  if (a.url.empty()) statuses.setBaseUrl(fmt::format("http://{}:{}", http.address, server->port()));
  statuses.start();
  notifier.start();
  deployer.start();
  watcher.start();
  agent.start();
  if (bus)
    bus->start([&](std::string_view news) { hearNews(news, board, events, agent, watcher); });
  scheduler::Poller poller(**store, agent);
  poller.setRetention(retention, sharedDir / "blobs");
  if (leads) poller.setLeads(leads);
  poller.start();
  // With PostgreSQL, other servers may share the database: a heartbeat, and the runs and
  // deploys of one that goes silent taken back.
  std::optional<scheduler::Presence> presence;
  if (shared) {
    auto period = std::chrono::milliseconds(std::max<int64_t>(500, silentFor->count() / 6));
    scheduler::Presence::Options presenceOptions;
    presenceOptions.me = me;
    presenceOptions.period = period;
    presenceOptions.timeout = *silentFor;
    presenceOptions.onOrphanRuns = [&](const std::vector<store::Run>& runs) {
      requeueInterrupted(**store, runs);
      agent.wake();
    };
    presenceOptions.lead = [&leadership] { return leadership->check(); };
    presence.emplace(**store, std::move(presenceOptions));
    presence->start();
  }
  // Remote agents' jobs whose lease ran out (their agent fell silent) are lost: their runs'
  // engines queue them again. Every server looks (a second one finds nothing left to do).
  Wakeup leases;
  std::thread leaseKeeper([&] {
    auto every =
        std::chrono::milliseconds(std::clamp<int64_t>(agentSilence->count() / 10, 200, 5000));
    while (leases.wait(every)) {
      auto lost = (*store)->sweepAgentJobs(nowMs());
      if (!lost.ok()) {
        logError("agents: " + lost.status().message());
        continue;
      }
      for (const auto& j : *lost) {
        logInfo("agent " + j.agent + " lost job " + j.job + " of run " + std::to_string(j.runId) +
                " (silent for " + formatDuration(*agentSilence) + ")");
        board.runChanged(j.runId);
      }
    }
  });
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stopSignals, &sig);
    logInfo(std::string("stopping (") + strsignal(sig) + ")");
    server->stop();
  });
  logInfo(fmt::format("listening on http://{}:{} (data in {})", http.address, server->port(),
                      data.string()));
  if (ctx.uiDir.empty()) {
    logInfo("no web UI: build it (cd ui && npm run build) or give --ui DIR; the API works alone");
  } else {
    logInfo(fmt::format("web UI: http://{}:{}/ (from {})", http.address, server->port(),
                        ctx.uiDir.string()));
  }
  server->run();
  leases.stop();
  leaseKeeper.join();
  poller.stop();
  agent.stop();     // cancels a running run and waits for it
  deployer.stop();  // waits for a running deploy: stopping one midway would leave it half done
  if (bus) bus->stop();
  if (presence) presence->stop();  // after its runs and deploys were recorded
  watcher.stop();
  statuses.stop();  // what it was told is queued first
  notifier.stop();
  if (signals.joinable()) {
    pthread_kill(signals.native_handle(), SIGTERM);  // wakes sigwait if stop came from elsewhere
    signals.join();
  }
  logInfo("stopped");
  return kExitOk;
}

}  // namespace

void addServerCommand(CLI::App& app, int* exitCode) {
  auto* cmd = app.add_subcommand("server", "Run the boucle server: API, embedded agent, storage");
  auto a = std::make_shared<ServerArgs>();
  cmd->add_option("--data", a->data, "Data directory (database, logs, artifacts)")
      ->capture_default_str();
  cmd->add_option("--db", a->db,
                  "The database: sqlite:PATH or postgres://USER@HOST[:PORT]/DB, its password "
                  "in ~/.pgpass or PGPASSFILE, never in the URL (default: the one this data "
                  "folder's server used last, kept in DATA/database, else "
                  "sqlite:DATA/boucle.db)");
  cmd->add_option("--shared", a->shared,
                  "A folder every server on one PostgreSQL database reads and writes (NFS): "
                  "runs' logs and records, artifacts, deploy logs, secret.key (default: DATA)");
  cmd->add_option("--url", a->url,
                  "Where people reach this server (https://ci.example.com): the commit statuses "
                  "set on forges link to its run pages (default: http://LISTEN)");
  cmd->add_option("--listen", a->listen, "Address and port to listen on (port 0: any free)")
      ->capture_default_str();
  cmd->add_option("--smtp", a->smtp, "SMTP server for e-mail notifications")->capture_default_str();
  cmd->add_option("--mail-from", a->mailFrom, "Sender of e-mail notifications")
      ->capture_default_str();
  cmd->add_flag("--public-read", a->publicRead, "Allow GET requests without a token");
  cmd->add_option("--ui", a->ui,
                  "The web UI's built files (default: share/boucle/ui beside boucle, or the "
                  "source tree's ui/dist)");
  cmd->add_option("--allowed-host", a->allowedHosts,
                  "On a loopback address, another name the server answers to in the Host header "
                  "(NAME or NAME:PORT; repeatable); other names get 421 (DNS rebinding)");
  cmd->add_option("--max-connections", a->maxConnections,
                  "Connections open at once; more are answered 503")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-streams-per-client", a->maxStreamsPerClient,
                  "Log streams (followers) one client address may hold open at once; more are "
                  "answered 429 (0: no limit, e.g. behind a proxy)")
      ->capture_default_str();
  cmd->add_option("--client-timeout", a->clientTimeout,
                  "Seconds after which a client that sends or reads nothing is dropped (a "
                  "request's head, an upload, a response or log stream it stopped reading)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--server-timeout", a->serverTimeout,
                  "With servers sharing a PostgreSQL database: a server silent this long is "
                  "gone, and the others mark its running runs and deploys interrupted")
      ->capture_default_str();
  cmd->add_option("--local-agent", a->localAgent,
                  "Run jobs without runs-on on this server (its embedded agent); false: every "
                  "job goes to remote agents (boucle agent)")
      ->capture_default_str();
  cmd->add_option("--agent-timeout", a->agentTimeout,
                  "A remote agent silent this long is lost: its jobs are queued again")
      ->capture_default_str();
  cmd->add_option("--git-timeout", a->gitTimeout,
                  "A fetch from the network still running after this is stopped and its run "
                  "fails (a stalled remote)")
      ->capture_default_str();
  cmd->add_option("-j,--jobs-in-parallel", a->parallelism, "Jobs at once within a run")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-runs", a->maxRuns,
                  "Runs at once (different branches or projects; a branch's runs go in order)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--keep-artifacts", a->keepArtifacts,
                  "Prune artifacts of runs finished longer ago than this (e.g. 30d), unless a "
                  "release holds them (default: keep all)");
  cmd->add_option("--max-log-size", a->maxLogSize,
                  "A job's log keeps this much, then says it was cut; the job runs on (0: no "
                  "limit)")
      ->capture_default_str();
  cmd->add_option("--artifacts-max", a->artifactsMax,
                  "Then prune the oldest unreleased artifacts until they take less than this "
                  "(e.g. 20G)");
  cmd->callback([a, exitCode] { *exitCode = serve(*a); });
}

}  // namespace boucle::cli
