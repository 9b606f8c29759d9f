#include <fmt/core.h>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "pipeline/parser.h"

namespace boucle::cli {

void addLintCommand(CLI::App& app, int* exitCode) {
  auto* cmd = app.add_subcommand("lint",
                                 "Check a pipeline file; print every error as "
                                 "FILE:LINE:COL and exit 1 if there is any");
  auto file = std::make_shared<std::string>(".boucle.yml");
  cmd->add_option("file", *file, "The pipeline file")->capture_default_str();
  cmd->callback([file, exitCode] {
    auto loaded = pipeline::loadPipelineFile(*file);
    if (!loaded.ok()) {
      fmt::print(stderr, "boucle lint: {}\n", loaded.status().message());
      *exitCode = kExitUsage;
      return;
    }
    if (!loaded->ok()) {
      for (auto& d : loaded->errors) fmt::print("{}\n", pipeline::formatDiagnostic(*file, d));
      fmt::print(stderr, "{}: {} error{}\n", *file, loaded->errors.size(),
                 loaded->errors.size() == 1 ? "" : "s");
      *exitCode = kExitFailed;
      return;
    }
    fmt::print("{}: ok ({})\n", *file, pipeline::summarize(loaded->pipeline));
    *exitCode = kExitOk;
  });
}

}  // namespace boucle::cli
