#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/local_run.h"

namespace boucle::cli {

void addRunCommand(CLI::App& app, int* exitCode) {
  auto* cmd = app.add_subcommand(
      "run",
      "Run the pipeline of the git repository here, on this machine, exactly as the "
      "server would: each job in a fresh checkout of the last commit");
  auto o = std::make_shared<LocalRunOptions>();
  auto grace = std::make_shared<std::string>("10s");
  cmd->add_option("jobs", o->jobs, "Run only these jobs (and the jobs they need)");
  cmd->add_option("-f,--file", o->file,
                  "Pipeline file (default: .boucle.yml of the commit being run)");
  cmd->add_option("-j,--jobs-in-parallel", o->parallelism,
                  "How many jobs may run at once (default: number of cores)");
  cmd->add_flag("--dirty", o->workingTree,
                "Run the working tree as it is, uncommitted changes included");
  cmd->add_option("--branch", o->branch, "Branch name for only/except (default: current)");
  cmd->add_option("--secret", o->secretArgs,
                  "Secret for the jobs: NAME (value taken from boucle's environment) or "
                  "NAME=VALUE; masked in every log; repeat for more")
      ->expected(1)
      ->allow_extra_args(false)  // one value per --secret: what follows may be a job name
      ->take_all();
  cmd->add_option("--secret-file", o->secretFileArgs,
                  "Secret read from a file: NAME=PATH (e.g. a PEM key); masked in every log")
      ->expected(1)
      ->allow_extra_args(false)  // one value per --secret: what follows may be a job name
      ->take_all();
  cmd->add_option("--data", o->data,
                  "Where runs, logs and artifacts are kept (default: $XDG_STATE_HOME/boucle or "
                  "~/.local/state/boucle)");
  cmd->add_option("--kill-grace", *grace,
                  "Time a cancelled or timed-out job gets between SIGTERM and SIGKILL")
      ->capture_default_str();
  cmd->add_flag("--keep-workspaces", o->keepWorkspaces,
                "Keep each job's workspace after the run, for inspection");
  cmd->add_flag("--json", o->json,
                "Print the run's result as JSON on stdout (live output on "
                "stderr)");
  cmd->add_flag("-q,--quiet", o->quiet, "Do not show the jobs' output, only progress");
  cmd->footer(
      "Exit codes: 0 all jobs passed, 1 a job failed, 2 bad pipeline file or usage, "
      "130 interrupted.");
  cmd->callback([o, grace, exitCode] {
    auto g = parseDuration(*grace);
    if (!g) throw CLI::ValidationError("--kill-grace", "expected a duration such as 10s");
    o->killGrace = *g;
    *exitCode = runLocal(*o);
  });
}

}  // namespace boucle::cli
