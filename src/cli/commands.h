#pragma once
// Each subcommand registers its options on the CLI11 app and returns the exit code it ran with.
// Exit codes: 0 success, 1 the work failed (a job, a lint error), 2 bad usage or input,
// 130 interrupted.

namespace CLI {
class App;
}

namespace boucle::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInterrupted = 130;

// Each returns a callable run after parsing; `*exitCode` receives the result.
void addLintCommand(CLI::App& app, int* exitCode);
void addRunCommand(CLI::App& app, int* exitCode);
void addServerCommand(CLI::App& app, int* exitCode);
void addClientCommands(CLI::App& app, int* exitCode);
void addReleaseCommands(CLI::App& app, int* exitCode);
void addDeployCommands(CLI::App& app, int* exitCode);
void addTokenCommands(CLI::App& app, int* exitCode);
void addUserCommands(CLI::App& app, int* exitCode);
void addTestCommands(CLI::App& app, int* exitCode);
void addFsckCommand(CLI::App& app, int* exitCode);
void addMigrateCommand(CLI::App& app, int* exitCode);
void addAgentCommands(CLI::App& app, int* exitCode);

}  // namespace boucle::cli
