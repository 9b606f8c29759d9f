#include "deploy/policy.h"

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

Result<Policy> loadPolicy(store::Store& store, const std::string& project,
                          const std::filesystem::path& mirror) {
  auto p = store.getProject(project);
  if (!p.ok()) return p.status();
  auto branch = vault::policyBranchOf(*p);
  if (!branch.ok()) return branch.status();
  auto text = scm::fileAtCommit(mirror, "refs/heads/" + *branch, ".boucle.yml");
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
