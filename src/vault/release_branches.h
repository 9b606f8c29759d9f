#pragma once
// Which branches make releases, and which one's pipeline file sets the environments' rules.
// Both are a project's settings, which only admins change (`boucle project set P
// --release-branch …`; default: the first watched branch), never read from the code being
// released: a committer's branch cannot declare itself a release branch, nor give itself an
// automatic way to production.

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace boucle::vault {

// The project's release branches (globs), its first watched branch when none is set.
std::vector<std::string> releaseBranchesOf(const store::Project& p);
bool isReleaseBranch(const store::Project& p, std::string_view branch);
// The branch whose pipeline file sets who may deploy where (the first release branch, which
// must be a name, not a glob).
Result<std::string> policyBranchOf(const store::Project& p);
// Whether a branch setting is a glob rather than one branch's name.
bool isBranchGlob(std::string_view b);

}  // namespace boucle::vault
