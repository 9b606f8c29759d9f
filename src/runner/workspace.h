#pragma once
// Where a job's files come from: one snapshot of the commit per run, then a private copy of it
// per job, so jobs never see the user's working tree nor each other's changes.

#include <filesystem>
#include <string>

#include "core/status.h"

namespace boucle::runner {

struct SourceInfo {
  std::filesystem::path root;    // top of the git work tree (or the plain directory)
  std::filesystem::path gitDir;  // the repository's (common) git directory, absolute
  bool isGit = false;
  std::string commit;   // full sha of HEAD
  std::string branch;   // current branch, or "HEAD" when detached
  std::string subject;  // first line of the commit message
  bool dirty = false;   // uncommitted changes in the work tree
};

Result<SourceInfo> inspectSource(const std::filesystem::path& dir);

// Writes the files of the run into `dest` (which must not exist): a clean checkout of
// `info.commit`, or with `workingTree` the files as they are now (tracked and untracked, minus
// ignored ones). A git snapshot shares objects with the original repository (clone --shared),
// so it costs a checkout, not a copy of the history.
Status snapshotSource(const SourceInfo& info, bool workingTree, const std::filesystem::path& dest);

}  // namespace boucle::runner
