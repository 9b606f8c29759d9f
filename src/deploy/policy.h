#pragma once
// The environments' rules — which environments there are and in what order, `after`, `auto`,
// `deployers`, `approval`, `four_eyes`, `window` — come from the pipeline file at the head of
// the project's policy branch (its first release branch, an admin's setting), as GitLab's
// protected environments and GitHub's environment rules come from settings the committer
// cannot change alone. A release keeps its own deploy method (steps, smoke checks), but never
// its own rules: an unreviewed branch that says `prod: {auto: true}` changes nothing.

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"
#include "pipeline/pipeline.h"
#include "store/store.h"

namespace boucle::deploy {

struct Policy {
  std::string branch;  // where the rules were read
  pipeline::Pipeline pipeline;
  const pipeline::Environment* env(std::string_view name) const;
  std::string envNames() const;  // "dev, qa, prod" or "none"
};

// The rules for `project`, read from its mirror: Invalid when the policy branch is unknown,
// lacks a pipeline file or the file has errors (no deploy is allowed on rules that cannot be
// read).
Result<Policy> loadPolicy(store::Store& store, const std::string& project,
                          const std::filesystem::path& mirror);

}  // namespace boucle::deploy
