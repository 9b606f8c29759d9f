#include "deploy/policy.h"

#include <sys/stat.h>

#include <map>
#include <mutex>

#include "pipeline/parser.h"
#include "scm/git_repo.h"
#include "vault/release_branches.h"

namespace boucle::deploy {

const pipeline::Environment* Policy::env(std::string_view name) const {
  for (const auto& e : pipeline.environments) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

std::string Policy::envNames() const {
  std::string out;
  for (const auto& e : pipeline.environments) out += (out.empty() ? "" : ", ") + e.name;
  return out.empty() ? "none" : out;
}

namespace {

// What a branch's ref looks like on disk: its loose file and packed-refs, each by inode, time
// and size. A fetch that moves the branch rewrites one of them (a new file put in place), so an
// unchanged stamp means an unchanged branch head.
std::string refStamp(const std::filesystem::path& mirror, const std::string& branch) {
  std::string out;
  for (const auto& f : {mirror / "refs/heads" / branch, mirror / "packed-refs"}) {
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) {
      out += "-|";
      continue;
    }
    out += std::to_string(st.st_ino) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_size) + "|";
  }
  return out;
}

// The policy file as last read from each mirror's branch. The watcher asks for every project's
// rules each minute; reading them from git each time would keep libgit2 loaded (see
// scm::unloadGitWhenQuiet) for a file that rarely changes.
struct Read {
  std::string stamp, text;
};
std::mutex readsMu;
std::map<std::string, Read> reads;  // by mirror and branch: one entry per project

Result<std::string> policyText(const std::filesystem::path& mirror, const std::string& branch) {
  std::string key = mirror.string() + "\n" + branch;
  std::string stamp = refStamp(mirror, branch);
  {
    std::lock_guard lock(readsMu);
    if (auto it = reads.find(key); it != reads.end() && it->second.stamp == stamp)
      return it->second.text;
  }
  auto text = scm::fileAtCommit(mirror, "refs/heads/" + branch, ".boucle.yml");
  if (!text.ok()) return text;
  std::lock_guard lock(readsMu);
  reads[key] = Read{stamp, *text};
  return text;
}

}  // namespace

Result<Policy> loadPolicy(store::Store& store, const std::string& project,
                          const std::filesystem::path& mirror) {
  auto p = store.getProject(project);
  if (!p.ok()) return p.status();
  auto branch = vault::policyBranchOf(*p);
  if (!branch.ok()) return branch.status();
  auto text = policyText(mirror, *branch);
  if (!text.ok()) {
    return Status::Invalid("the environments' rules are read from " + project + "'s branch " +
                           *branch + ", which has no readable .boucle.yml yet (" +
                           text.status().message() + ")");
  }
  auto parsed = pipeline::parsePipeline(*text);
  if (!parsed.ok()) {
    return Status::Invalid("the environments' rules are read from .boucle.yml on " + *branch +
                           ", which has errors: fix it there first");
  }
  return Policy{*branch, std::move(parsed.pipeline)};
}

}  // namespace boucle::deploy
