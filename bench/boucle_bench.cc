// Micro-benchmarks for the hot paths of the job engine, and the floor they are compared with.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "api/events.h"
#include "insight/dora.h"
#include "os/process.h"
#include "pipeline/parser.h"
#include "quality/test_book.h"
#include "runner/masker.h"
#include "runner/sandbox.h"
#include "runner/supervisor_client.h"
#include "scm/git_repo.h"
#include "store/store.h"

extern char** environ;

namespace {

void spawnAndWait(benchmark::State& state, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto _ : state) {
    pid_t pid;
    if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
      state.SkipWithError("spawn failed");
      return;
    }
    int st;
    waitpid(pid, &st, 0);
  }
  state.SetItemsProcessed(state.iterations());
}

// The floor for per-job overhead: what starting and reaping `true` costs on this machine.
void BM_SpawnTrueFloor(benchmark::State& state) {
  spawnAndWait(state, {"/bin/true"});
}
BENCHMARK(BM_SpawnTrueFloor)->Unit(benchmark::kMillisecond)->UseRealTime();
// Two at a time, as the 1,000-job figure runs them: items_per_second is the most any CI could
// run trivial jobs here (process creation does not scale with cores on this VM).
BENCHMARK(BM_SpawnTrueFloor)->Unit(benchmark::kMillisecond)->UseRealTime()->Threads(2);

void BM_SpawnShellTrue(benchmark::State& state) {
  spawnAndWait(state, {"/bin/sh", "-e", "-c", "true"});
}
BENCHMARK(BM_SpawnShellTrue)->Unit(benchmark::kMillisecond)->UseRealTime();

// A trivial job as the engine starts it: through a supervisor that is reused from job to job.
void BM_SupervisedShellTrue(benchmark::State& state) {
  auto program = boucle::runner::supervisorPath();
  if (!program.ok()) {
    state.SkipWithError(program.status().message().c_str());
    return;
  }
  auto sup = boucle::runner::SupervisorClient::start(*program);
  if (!sup.ok()) {
    state.SkipWithError(sup.status().message().c_str());
    return;
  }
  int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  std::vector<std::string> argv{"/bin/sh", "-e", "-c", "true"}, env{"PATH=/usr/bin:/bin"};
  for (auto _ : state) {
    auto asked = (*sup)->request(std::chrono::seconds(1), "/", argv, env, devnull);
    if (!asked.ok() || !(*sup)->started().ok() || !(*sup)->readExit().ok()) {
      state.SkipWithError("job failed");
      break;
    }
  }
  ::close(devnull);
}
BENCHMARK(BM_SupervisedShellTrue)->Unit(benchmark::kMillisecond)->UseRealTime();

std::string logText(size_t bytes) {
  std::string s;
  for (int i = 0; s.size() < bytes; ++i) {
    s += "2026-11-26T10:00:00Z INFO worker-" + std::to_string(i % 7) + " processed item " +
         std::to_string(i * 13) + " status=ok\n";
  }
  return s;
}

void BM_MaskerThroughput(benchmark::State& state) {
  std::vector<std::string> secrets;
  for (int i = 0; i < state.range(0); ++i) secrets.push_back("s3cr3t-value-" + std::to_string(i));
  boucle::runner::Masker m(secrets);
  std::string chunk = logText(1 << 16), out;
  for (auto _ : state) {
    out.clear();
    m.feed(chunk, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk.size()));
}
BENCHMARK(BM_MaskerThroughput)->Arg(0)->Arg(1)->Arg(10)->Arg(50);

void BM_ParsePipeline(benchmark::State& state) {
  std::string yaml = "version: 1\njobs:\n";
  for (int i = 0; i < 200; ++i) {
    yaml += "  j" + std::to_string(i) + ":\n    run: make -j target" + std::to_string(i) +
            "\n    artifacts: [dist/*.tar.gz]\n";
    if (i) yaml += "    needs: [j" + std::to_string(i - 1) + "]\n";
  }
  for (auto _ : state) {
    auto r = boucle::pipeline::parsePipeline(yaml);
    benchmark::DoNotOptimize(r.errors.size());
  }
}
BENCHMARK(BM_ParsePipeline)->Unit(benchmark::kMillisecond);

// The git steps of every server run, in-process: a fetch of one new commit into a mirror from a
// local repository, and a detached checkout of it with the mirror's objects borrowed.
struct GitFixture {
  std::filesystem::path dir;
  GitFixture() {
    char tmpl[] = "/tmp/boucle-gitbench.XXXXXX";
    dir = ::mkdtemp(tmpl);
    sh("git init -q -b main " + (dir / "repo").string() + " && cd " + (dir / "repo").string() +
       " && for i in $(seq 50); do echo $i > f$i; done && git add -A && " + commit("c0") +
       " && git clone -q --mirror . " + (dir / "mirror").string());
  }
  ~GitFixture() { sh("rm -rf " + dir.string()); }
  static std::string commit(const std::string& m) {
    return "git -c user.name=b -c user.email=b@b commit -q -m " + m;
  }
  static void sh(const std::string& cmd) {
    if (std::system(cmd.c_str()) != 0) std::abort();
  }
};

void BM_FetchOneCommitInProcess(benchmark::State& state) {
  GitFixture g;
  int n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    GitFixture::sh("cd " + (g.dir / "repo").string() + " && echo x" + std::to_string(++n) +
                   " > f1 && git add f1 && " + GitFixture::commit("c") + " >/dev/null");
    state.ResumeTiming();
    auto st = boucle::scm::fetchInto(g.dir / "mirror", (g.dir / "repo").string(), {});
    if (!st.ok()) state.SkipWithError(st.message().c_str());
  }
}
BENCHMARK(BM_FetchOneCommitInProcess)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CheckoutDetached50Files(benchmark::State& state) {
  GitFixture g;
  auto head = boucle::scm::describeCommit(g.dir / "mirror", "main");
  int n = 0;
  for (auto _ : state) {
    auto dest = g.dir / ("co" + std::to_string(++n));
    auto st = boucle::scm::checkoutDetached(g.dir / "mirror", "origin", head->sha, dest);
    if (!st.ok()) state.SkipWithError(st.message().c_str());
  }
}
BENCHMARK(BM_CheckoutDetached50Files)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

// What the sandbox reads of the system at a server's start and every 10 minutes: the entries
// of /etc, /usr and /opt others may not read.
void BM_SandboxSystemScan(benchmark::State& state) {
  for (auto _ : state) boucle::runner::prewarmSandbox();
}
BENCHMARK(BM_SandboxSystemScan)->Unit(benchmark::kMillisecond)->UseRealTime();

// DORA's figures over 100,000 deploys of one environment (goal: under 50 ms), each bringing
// two commits, one in ten failing, an incident every 50.
void BM_Dora100kDeploys(benchmark::State& state) {
  using namespace boucle::insight;
  std::vector<DoraDeploy> deploys;
  std::vector<DoraIncident> incidents;
  const int64_t hour = 3600LL * 1000;
  // Appended, not "literal" + string: GCC 12 warns (-Wrestrict, a false alarm) on that.
  auto name = [](const char* prefix, int64_t i) {
    std::string s(prefix);
    s += std::to_string(i);
    return s;
  };
  for (int64_t i = 0; i < 100000; ++i) {
    DoraDeploy d;
    d.id = i + 1;
    d.version = name("1.", i);
    d.state = i % 10 == 3 ? "failed" : "succeeded";
    d.startedAtMs = i * hour;
    d.finishedAtMs = i * hour + 60000;
    d.commits = {{name("a", i), i * hour - 5 * hour, i * hour - hour},
                 {name("b", i), i * hour - 2 * hour, std::nullopt}};
    deploys.push_back(std::move(d));
    if (i % 50 == 7) incidents.push_back({i, i * hour + 30 * 60000, i * hour + 50 * 60000});
  }
  for (auto _ : state) {
    auto r = computeDora(deploys, incidents, 0, 100000 * hour);
    benchmark::DoNotOptimize(r.failures.size());
  }
}
BENCHMARK(BM_Dora100kDeploys)->Unit(benchmark::kMillisecond);

// One live event to N subscribers, without the sockets: the publish (a wake-up each) and each
// subscriber's turn (its piece made, its wake-up set again). What the server spends beyond
// this per subscriber is the socket write.
void BM_EventFanOut(benchmark::State& state) {
  boucle::api::EventHub hub;
  std::vector<std::shared_ptr<boucle::api::BodyStream>> streams;
  size_t woken = 0;
  for (int64_t i = 0; i < state.range(0); ++i) {
    streams.push_back(hub.subscribe("web", std::nullopt));
    streams.back()->next();  // the greeting
    streams.back()->onMore([&woken] { ++woken; });
  }
  std::string data = R"({"id":1,"project":"web","env":"prod","state":"open","title":"bench"})";
  size_t bytes = 0;
  for (auto _ : state) {
    hub.publish("incident", "web", data);
    for (auto& s : streams) {
      bytes += s->next().data.size();
      s->onMore([&woken] { ++woken; });
    }
  }
  if (woken != static_cast<size_t>(state.iterations() * state.range(0)))
    state.SkipWithError("a subscriber was not woken");
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EventFanOut)->Arg(1000)->Unit(benchmark::kMicrosecond);

// One run's life in the store as the server writes it: queued, claimed, two jobs recorded
// started and finished, the run finished, read back with its jobs: 9 store operations.
void storeRunCycle(benchmark::State& state, boucle::store::Store& store) {
  using namespace boucle::store;
  Project p;
  static int invocation = 0;  // Google Benchmark calls this more than once per database
  p.name = "bench" + std::to_string(::getpid()) + "-" + std::to_string(++invocation);
  p.url = "/srv/git/bench";
  p.branches = {"main"};
  if (auto added = store.addProject(p); !added.ok())
    return state.SkipWithError(added.status().message().c_str());
  int64_t ops = 0;
  for (auto _ : state) {
    Run r;
    r.project = p.name;
    r.ref = "main";
    r.trigger = "push";
    auto made = store.createRun(r);
    auto claimed = store.claimNextQueued(1);
    if (!made.ok() || !claimed.ok() || !*claimed) return state.SkipWithError("no claim");
    Run run = **claimed;
    for (const char* job : {"build", "test"}) {
      JobRecord j{run.id, job, "running", -1, 1, 1, std::nullopt, "", "", "", ""};
      (void)store.saveJob(j);
      j.state = "passed";
      j.exitCode = 0;
      j.finishedAt = 2;
      (void)store.saveJob(j);
    }
    run.state = RunState::kPassed;
    run.finishedAt = 3;
    (void)store.updateRun(run);
    benchmark::DoNotOptimize(store.listJobs(run.id));
    ops += 9;
  }
  state.counters["ops/s"] =
      benchmark::Counter(static_cast<double>(ops), benchmark::Counter::kIsRate);
}

void BM_StoreRunCycleSqlite(benchmark::State& state) {
  char dir[] = "/tmp/boucle-bench-XXXXXX";
  if (!mkdtemp(dir)) return state.SkipWithError("mkdtemp");
  {
    auto store = boucle::store::openSqliteStore(std::string(dir) + "/boucle.db");
    if (!store.ok()) return state.SkipWithError(store.status().message().c_str());
    storeRunCycle(state, **store);
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_StoreRunCycleSqlite)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The same on PostgreSQL, when BOUCLE_BENCH_PG names an empty database (bench/store.sh).
void BM_StoreRunCyclePostgres(benchmark::State& state) {
  auto store = boucle::store::openPostgresStore(::getenv("BOUCLE_BENCH_PG"));
  if (!store.ok()) return state.SkipWithError(store.status().message().c_str());
  storeRunCycle(state, **store);
}
[[maybe_unused]] const bool kPostgresRegistered = [] {
  if (const char* url = ::getenv("BOUCLE_BENCH_PG"); url && *url) {
    benchmark::RegisterBenchmark("BM_StoreRunCyclePostgres", BM_StoreRunCyclePostgres)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
  return true;
}();

// A 5,000-case job's tests kept (names, every result packed, its failures) and its flakes
// looked for, per job run, into SQLite; `bytes/run` is what the database grows by per run
// (goal: 100,000 runs of a 5,000-test project in a few GB).
namespace {
boucle::runner::TestReport fiveThousandCases(int64_t run) {
  boucle::runner::TestReport r;
  for (int i = 0; i < 5000; ++i) {
    auto outcome = (i == 17 && run % 7 == 0) ? boucle::runner::Outcome::kFailed
                                             : boucle::runner::Outcome::kPassed;
    std::string suite = "suite_";
    suite += std::to_string(i / 50);
    std::string name = "test_case_number_";
    name += std::to_string(i);
    int64_t micros = 200 + (i * 37 + run * 11) % 4000;
    if (outcome == boucle::runner::Outcome::kFailed) {
      ++r.failures;
      r.failed.push_back({suite, name, "failure", "expected 1, got 2", "t.py:3", ""});
    }
    ++r.tests;
    r.cases.push_back({suite, name, "tests/" + suite + ".py", outcome, micros});
  }
  return r;
}
}  // namespace

void addBigProject(boucle::store::Store& store) {
  boucle::store::Project p;
  p.name = "big";
  p.url = "/srv/big";
  p.branches = {"main"};
  (void)store.addProject(p);
}

void BM_TestBookRecord5000Cases(benchmark::State& state) {
  char dir[] = "/tmp/boucle-bench-XXXXXX";
  if (!mkdtemp(dir)) return state.SkipWithError("mkdtemp");
  std::string db = std::string(dir) + "/boucle.db";
  {
    auto store = boucle::store::openSqliteStore(db);
    if (!store.ok()) return state.SkipWithError(store.status().message().c_str());
    addBigProject(**store);
    boucle::quality::TestBook book(**store);
    auto size = [&] {
      std::error_code ec;
      auto a = std::filesystem::file_size(db, ec);
      auto b = std::filesystem::file_size(db + "-wal", ec);
      return static_cast<double>(a + (ec ? 0 : b));
    };
    int64_t runs = 0;
    double before = 0;
    for (auto _ : state) {
      state.PauseTiming();
      boucle::store::Run r;
      r.project = "big";
      r.ref = r.branch = "main";
      r.commit = "c" + std::to_string(runs);
      auto run = (*store)->createRun(r);
      boucle::runner::JobResult job;
      job.name = "test";
      job.attempts = 1;
      job.tests = fiveThousandCases(runs);
      if (runs == 1) before = size();  // the names are in: each run adds its results
      state.ResumeTiming();
      auto recorded = book.record(*run, job);
      if (!recorded.ok()) return state.SkipWithError(recorded.status().message().c_str());
      ++runs;
    }
    // The WAL is folded in: what the runs take once the database is checkpointed.
    (void)(*store)->integrityCheck();
    store->reset();
    double after = size();
    if (runs > 1) state.counters["bytes/run"] = (after - before) / static_cast<double>(runs - 1);
    state.counters["bytes/case"] = state.counters["bytes/run"] / 5000;
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_TestBookRecord5000Cases)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(200);

// `boucle tests` of a 5,000-test project over its last 200 job runs (goal: under 200 ms).
void BM_TestSummary5000x200(benchmark::State& state) {
  char dir[] = "/tmp/boucle-bench-XXXXXX";
  if (!mkdtemp(dir)) return state.SkipWithError("mkdtemp");
  {
    auto store = boucle::store::openSqliteStore(std::string(dir) + "/boucle.db");
    if (!store.ok()) return state.SkipWithError(store.status().message().c_str());
    addBigProject(**store);
    boucle::quality::TestBook book(**store);
    for (int64_t i = 0; i < 200; ++i) {
      boucle::store::Run r;
      r.project = "big";
      r.ref = r.branch = "main";
      r.commit = "c" + std::to_string(i / 2);  // each commit built twice: flakes to find
      auto run = (*store)->createRun(r);
      boucle::runner::JobResult job;
      job.name = "test";
      job.attempts = 1;
      job.tests = fiveThousandCases(i);
      (void)book.record(*run, job);
    }
    for (auto _ : state) {
      auto list = book.summary("big", false, 200);
      if (!list.ok()) return state.SkipWithError(list.status().message().c_str());
      benchmark::DoNotOptimize(list->size());
    }
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_TestSummary5000x200)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
