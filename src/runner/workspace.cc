#include "runner/workspace.h"

#include "os/files.h"
#include "runner/process.h"

namespace boucle::runner {
namespace fs = std::filesystem;

namespace {

Result<std::string> git(const fs::path& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-C", dir.string()});
  auto r = runAndCapture(args);
  if (!r.ok()) return r.status();
  if (r->exitCode != 0) {
    std::string out = r->output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return Status::Io("git " + args[3] + " failed: " + out);
  }
  std::string out = std::move(r->output);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

Result<SourceInfo> inspectSource(const fs::path& dir) {
  SourceInfo info;
  std::error_code ec;
  info.root = fs::canonical(dir, ec);
  if (ec) return errnoStatus(dir.string(), ec.value());
  auto top = git(dir, {"rev-parse", "--show-toplevel"});
  if (!top.ok()) return info;  // not a git repository: a plain directory
  info.isGit = true;
  info.root = *top;
  auto head = git(info.root, {"rev-parse", "--verify", "-q", "HEAD^{commit}"});
  if (!head.ok()) return Status::Invalid("the repository has no commit yet (commit first, or use --dirty)");
  info.commit = *head;
  auto branch = git(info.root, {"rev-parse", "--abbrev-ref", "HEAD"});
  info.branch = branch.ok() ? *branch : "HEAD";
  auto subject = git(info.root, {"log", "-1", "--format=%s", info.commit});
  if (subject.ok()) info.subject = *subject;
  auto status = git(info.root, {"status", "--porcelain", "--untracked-files=no"});
  info.dirty = status.ok() && !status->empty();
  return info;
}

Status snapshotSource(const SourceInfo& info, bool workingTree, const fs::path& dest) {
  if (!info.isGit) return os::copyTree(info.root, dest);
  if (workingTree) {
    auto files = git(info.root, {"ls-files", "-z", "--cached", "--others", "--exclude-standard"});
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
  auto clone = runAndCapture({"git", "clone", "--quiet", "--shared", "--no-checkout",
                              "--template=", info.root.string(), dest.string()});
  if (!clone.ok()) return clone.status();
  if (clone->exitCode != 0) return Status::Io("git clone failed: " + clone->output);
  auto co = git(dest, {"checkout", "--quiet", "--detach", info.commit});
  if (!co.ok()) return co.status();
  return Status::Ok();
}

}  // namespace boucle::runner
