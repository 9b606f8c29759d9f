#pragma once
// The git command, for what boucle does not do in-process (network fetches, repack, log,
// ls-remote, a working tree's state): one helper for every part. Arguments go to git as an
// argv (never a shell); refs and URLs from users come after "--" or as single arguments.

#include <filesystem>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/status.h"
#include "scm/git_auth.h"

namespace boucle::scm {

// `git ARGS`, its output with trailing newlines trimmed; Io with git's message when it fails.
// With `auth`, git can reach the project's private repository and its messages are redacted.
// A git still running after `timeout` is stopped (Timeout).
Result<std::string> git(const std::vector<std::string>& args, const GitAuth* auth = nullptr,
                        Millis timeout = std::chrono::minutes(10));
// The same in `dir` (git -C DIR ARGS).
Result<std::string> gitIn(const std::filesystem::path& dir, const std::vector<std::string>& args);

}  // namespace boucle::scm
