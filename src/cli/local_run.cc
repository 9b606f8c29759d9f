#include "cli/local_run.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include "cli/commands.h"
#include "cli/terminal_reporter.h"
#include "core/clock.h"
#include "os/files.h"
#include "pipeline/parser.h"
#include "runner/engine.h"
#include "runner/job_env.h"
#include "runner/run_record.h"
#include "runner/workspace.h"

namespace boucle::cli {
namespace fs = std::filesystem;

namespace {

int gSignalPipe = -1;

// Only writes to a pipe: the engine's poll loop does the actual cancelling.
void onSignal(int) {
  char c = 1;
  [[maybe_unused]] auto n = ::write(gSignalPipe, &c, 1);
}

fs::path defaultDataDir() {
  if (const char* s = std::getenv("XDG_STATE_HOME"); s && *s) return fs::path(s) / "boucle";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".local/state/boucle";
  return fs::temp_directory_path() / "boucle";
}

// Run ids count up per project; mkdir is the atomic claim, so two concurrent `boucle run`s
// never share a directory.
Result<std::pair<std::string, fs::path>> allocateRunDir(const fs::path& projectDir) {
  std::error_code ec;
  fs::create_directories(projectDir, ec);
  if (ec) return errnoStatus("create " + projectDir.string(), ec.value());
  long next = 1;
  for (const auto& e : fs::directory_iterator(projectDir, ec)) {
    std::string name = e.path().filename().string();
    char* end = nullptr;
    long n = std::strtol(name.c_str(), &end, 10);
    if (!name.empty() && *end == '\0' && n >= next) next = n + 1;
  }
  for (int tries = 0; tries < 1000; ++tries, ++next) {
    fs::path dir = projectDir / std::to_string(next);
    if (::mkdir(dir.c_str(), 0755) == 0) return std::pair{std::to_string(next), dir};
    if (errno != EEXIST) return errnoStatus("create " + dir.string(), errno);
  }
  return Status::Conflict("could not allocate a run directory in " + projectDir.string());
}

Result<std::vector<std::pair<std::string, std::string>>> readSecrets(const LocalRunOptions& o) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& arg : o.secretArgs) {
    auto eq = arg.find('=');
    if (eq == std::string::npos) {
      const char* v = std::getenv(arg.c_str());
      if (!v) return Status::Invalid("--secret " + arg + ": no such variable in the environment");
      out.emplace_back(arg, v);
    } else {
      out.emplace_back(arg.substr(0, eq), arg.substr(eq + 1));
    }
  }
  for (const auto& arg : o.secretFileArgs) {
    auto eq = arg.find('=');
    if (eq == std::string::npos) return Status::Invalid("--secret-file expects NAME=PATH");
    auto content = os::readFile(arg.substr(eq + 1));
    if (!content.ok()) return Status::Invalid("--secret-file " + content.status().message());
    out.emplace_back(arg.substr(0, eq), *content);
  }
  for (const auto& [name, value] : out) {
    if (name.empty() ||
        name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789_") != std::string::npos) {
      return Status::Invalid("secret name '" + name + "' must be a variable name");
    }
  }
  return out;
}

}  // namespace

int runLocal(const LocalRunOptions& o) {
  FILE* live = o.json ? stderr : stdout;
  auto secrets = readSecrets(o);
  if (!secrets.ok()) {
    fmt::print(stderr, "boucle run: {}\n", secrets.status().message());
    return kExitUsage;
  }
  auto source = runner::inspectSource(fs::current_path());
  if (!source.ok()) {
    fmt::print(stderr, "boucle run: {}\n", source.status().message());
    return kExitUsage;
  }
  if (!source->isGit) {
    fmt::print(stderr,
               "boucle run: {} is not in a git repository: boucle run runs the pipeline of the "
               "git repository it is started in, at its last commit (git init, or cd into one)\n",
               fs::current_path().string());
    return kExitUsage;
  }
  if (o.file.empty() && !fs::exists(source->root / ".boucle.yml")) {
    fmt::print(stderr, "boucle run: no .boucle.yml at the top of {} (docs/pipeline-file.md)\n",
               source->root.string());
    return kExitUsage;
  }
  bool workingTree = o.workingTree;
  if (source->dirty && !workingTree) {
    fmt::print(stderr,
               "note: uncommitted changes are not part of this run (use --dirty to "
               "include them)\n");
  }
  std::string project = source->root.filename().string();
  fs::path data = o.data.empty() ? defaultDataDir() : fs::absolute(o.data);
  auto run = allocateRunDir(data / "runs" / project);
  if (!run.ok()) {
    fmt::print(stderr, "boucle run: {}\n", run.status().message());
    return kExitUsage;
  }
  auto [runId, runDir] = *run;
  // Until the run starts, any failure removes its directory: no half-made run is left behind.
  auto abandon = [&runDir = runDir](int code) {
    std::error_code ec;
    fs::remove_all(runDir, ec);
    fs::remove(runDir.parent_path(), ec);  // the project's folder, if this was its first run
    return code;
  };
  fs::path src = runDir / "src";
  if (auto st = runner::snapshotSource(*source, workingTree, src); !st.ok()) {
    fmt::print(stderr, "boucle run: cannot prepare the sources: {}\n", st.message());
    return abandon(kExitUsage);
  }

  fs::path file = o.file.empty() ? src / ".boucle.yml" : fs::absolute(o.file);
  std::string shownFile = o.file.empty() ? ".boucle.yml" : o.file;
  auto parsed = pipeline::loadPipelineFile(file);
  if (!parsed.ok()) {
    fmt::print(stderr, "boucle run: {}\n", parsed.status().message());
    return abandon(kExitUsage);
  }
  if (!parsed->ok()) {
    for (const auto& d : parsed->errors) {
      fmt::print(stderr, "{}\n", pipeline::formatDiagnostic(shownFile, d));
    }
    return abandon(kExitUsage);
  }
  pipeline::Pipeline p = std::move(parsed->pipeline);
  if (auto st = pipeline::selectJobs(p, o.jobs); !st.ok()) {
    fmt::print(stderr, "boucle run: {}\n", st.message());
    return abandon(kExitUsage);
  }

  int sig[2];
  if (::pipe2(sig, O_CLOEXEC | O_NONBLOCK) != 0) return abandon(kExitUsage);
  gSignalPipe = sig[1];
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  runner::RunConfig config;
  config.project = project;
  config.runId = runId;
  config.commit = source->isGit ? source->commit : "";
  config.branch = o.branch.empty() ? source->branch : o.branch;
  config.runDir = runDir;
  config.sourceDir = src;
  config.blobRoot = data / "blobs";
  config.parallelism =
      o.parallelism ? o.parallelism : std::max(1u, std::thread::hardware_concurrency());
  config.killGrace = o.killGrace;
  config.secrets = *secrets;
  config.baseEnv = runner::inheritedEnvironment();
  config.cancelFd = sig[0];

  runner::RunMeta meta{project,         runId,     config.commit, config.branch,
                       source->subject, "running", nowMs(),       workingTree};
  if (auto st = runner::writeRunRecord(runDir, meta, nullptr); !st.ok()) {
    fmt::print(stderr, "boucle run: {}\n", st.message());
    return abandon(kExitUsage);
  }
  fmt::print(live, "boucle: run {} of {} at {} ({}){}\n", runId, project,
             config.commit.empty() ? "working directory" : config.commit.substr(0, 12),
             config.branch, workingTree && source->isGit ? " with uncommitted changes" : "");
  std::fflush(live);

  TerminalReporter reporter(live, p, !o.quiet);
  runner::RunResult result = runner::runPipeline(p, config, reporter);
  meta.state = result.interrupted ? "cancelled" : result.passed() ? "passed" : "failed";
  if (auto st = runner::writeRunRecord(runDir, meta, &result); !st.ok()) {
    fmt::print(stderr, "boucle run: {}\n", st.message());
  }
  reporter.summary(result, runDir.string());
  if (o.json) fmt::print("{}", runner::runToJson(meta, &result));
  std::fflush(stdout);
  if (!o.keepWorkspaces) {  // after the report: the user need not wait for the deletion
    std::error_code ec;
    fs::remove_all(src, ec);
    fs::remove_all(runDir / "ws", ec);
  }
  if (result.interrupted) return kExitInterrupted;
  return result.passed() ? kExitOk : kExitFailed;
}

}  // namespace boucle::cli
