#pragma once
// Workspace-relative globs for artifacts and reports: "dist/*.tar.gz", "build/**/test-*.xml".
// Each path segment is an fnmatch(3) pattern; "**" as a whole segment matches zero or more
// directories. Written by hand because glob(3) has no "**" and no workspace confinement.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace boucle {

// Rejects absolute patterns, ".." segments, empty patterns and unbalanced brackets.
Status validateGlob(std::string_view pattern);

// Regular files under `root` matching `pattern`, as sorted root-relative paths. Symlinks are
// followed only when their target stays inside `root`; a match that resolves outside is an error.
Result<std::vector<std::string>> expandGlob(const std::filesystem::path& root,
                                            std::string_view pattern);

// True when a relative path matches the pattern (same rules as expandGlob, no file access).
bool globMatches(std::string_view pattern, std::string_view relPath);

// The one rule for branch filters (watched branches, release branches, a job's only/except,
// the pipeline's release.branches): `*` stays within one `/`-separated part, `**` crosses
// them, as in GitHub Actions' branch filters. "release/*" takes release/1.2, not
// release/1.2/hotfix; "**" takes every branch.
bool branchMatches(std::string_view glob, std::string_view branch);

}  // namespace boucle
