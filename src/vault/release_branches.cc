#include "vault/release_branches.h"

#include "core/glob.h"

namespace boucle::vault {

std::vector<std::string> releaseBranchesOf(const store::Project& p) {
  if (!p.releaseBranches.empty()) return p.releaseBranches;
  if (!p.branches.empty()) return {p.branches.front()};
  return {"main"};
}

bool isReleaseBranch(const store::Project& p, std::string_view branch) {
  for (const auto& glob : releaseBranchesOf(p)) {
    if (branchMatches(glob, branch)) return true;
  }
  return false;
}

bool isBranchGlob(std::string_view b) {
  return b.find_first_of("*?[") != std::string_view::npos;
}

Result<std::string> policyBranchOf(const store::Project& p) {
  std::string first = releaseBranchesOf(p).front();
  if (isBranchGlob(first)) {
    return Status::Invalid(p.name + "'s first release branch, '" + first +
                           "', is a pattern: the environments' rules are read from one branch "
                           "(boucle project set " +
                           p.name + " --release-branch main …)");
  }
  return first;
}

}  // namespace boucle::vault
