#pragma once
// A job whose whole script is one plain command (`make test`, `./build.sh --release`, `true`)
// is started without a shell in between, as GNU make does: the program is executed directly,
// which saves a shell's start-up (a millisecond or more of exec and dynamic linking) per job.
// Anything a shell would interpret — quotes, variables, globs, redirections, `;`, `&&`, a
// builtin that changes the shell's state, an assignment, a command that is not found, a script
// without `#!` — keeps the shell, so the result is the same as with `sh -c`.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boucle::runner {

// The argv to execute directly (argv[0] an absolute path), or nothing when the script needs a
// shell. `env` is the job's environment (its PATH is searched); `cwd` its working directory.
std::optional<std::vector<std::string>> directCommand(std::string_view script,
                                                      const std::vector<std::string>& env,
                                                      const std::filesystem::path& cwd);

}  // namespace boucle::runner
