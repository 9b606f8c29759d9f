#include "runner/workspace.h"

#include "os/files.h"
#include "os/process.h"
#include "scm/git_command.h"
#include "scm/git_repo.h"

namespace boucle::runner {
namespace fs = std::filesystem;

Result<SourceInfo> inspectSource(const fs::path& dir) {
  SourceInfo info;
  std::error_code ec;
  info.root = fs::canonical(dir, ec);
  if (ec) return errnoStatus(dir.string(), ec.value());
  // One call for the top, the git directory, the commit and the branch (--abbrev-ref applies
  // to the revisions after it, so the commit comes first); if it fails, a second tells "not a
  // repository" from "no commit yet".
  auto heads = scm::gitIn(dir, {"rev-parse", "--path-format=absolute", "--show-toplevel",
                                "--git-common-dir", "HEAD^{commit}", "--abbrev-ref", "HEAD"});
  if (!heads.ok()) {
    if (!scm::gitIn(dir, {"rev-parse", "--show-toplevel"}).ok()) return info;  // a plain directory
    return Status::Invalid("the repository has no commit yet (commit first, or use --dirty)");
  }
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= heads->size()) {
    size_t nl = std::min(heads->find('\n', start), heads->size());
    lines.push_back(heads->substr(start, nl - start));
    start = nl + 1;
  }
  if (lines.size() != 4) return Status::Internal("unexpected answer from git rev-parse: " + *heads);
  info.isGit = true;
  info.root = lines[0];
  info.gitDir = lines[1];
  info.commit = lines[2];
  info.branch = lines[3];  // "HEAD" when detached
  auto subject = scm::gitIn(info.root, {"log", "-1", "--format=%s", info.commit});
  if (subject.ok()) info.subject = *subject;
  auto status = scm::gitIn(info.root, {"status", "--porcelain", "--untracked-files=no"});
  info.dirty = status.ok() && !status->empty();
  return info;
}

Status snapshotSource(const SourceInfo& info, bool workingTree, const fs::path& dest) {
  if (!info.isGit) return os::copyTree(info.root, dest);
  if (workingTree) {
    auto files =
        scm::gitIn(info.root, {"ls-files", "-z", "--cached", "--others", "--exclude-standard"});
    if (!files.ok()) return files.status();
    std::error_code ec;
    fs::create_directories(dest, ec);
    if (ec) return errnoStatus("mkdir " + dest.string(), ec.value());
    size_t start = 0;
    const std::string& list = *files;
    while (start < list.size()) {
      size_t end = std::min(list.find('\0', start), list.size());
      fs::path rel = list.substr(start, end - start);
      start = end + 1;
      fs::path from = info.root / rel;
      if (!fs::exists(fs::symlink_status(from, ec))) continue;  // deleted but still tracked
      fs::create_directories((dest / rel).parent_path(), ec);
      fs::copy(from, dest / rel, fs::copy_options::copy_symlinks, ec);
      if (ec) return errnoStatus("copy " + from.string(), ec.value());
    }
    return Status::Ok();
  }
  // `origin` points at the original, so jobs can use git as in any clone.
  return scm::checkoutDetached(info.gitDir, info.root.string(), info.commit, dest);
}

}  // namespace boucle::runner
