#pragma once
// Release notes and the next version, from the commits a release brings, read as Conventional
// Commits (conventionalcommits.org 1.0): "feat(api)!: subject", a "BREAKING CHANGE:" footer.
// Commits that do not follow the convention are listed under "Other changes".

#include <string>
#include <vector>

#include "core/semver.h"

namespace boucle::insight {

struct Change {
  std::string sha;
  std::string author;
  std::string message;  // the whole message: subject, body, footers
};

struct ConventionalCommit {
  std::string type;  // "feat", "fix", …; "" when the subject does not follow the convention
  std::string scope;
  std::string description;  // the subject after "type(scope): ", or the whole subject
  bool breaking = false;
  std::string breakingNote;  // the BREAKING CHANGE footer's text, if any
};

ConventionalCommit parseConventional(const std::string& message);

// The bump the changes call for: a breaking change → major, a feature → minor, anything
// else → patch; no changes → none.
Bump bumpFor(const std::vector<Change>& changes);

// Markdown: "## VERSION (DATE)", then breaking changes, features, fixes and other changes,
// each line "- scope: description (shortsha, author)". `changes` newest first, as git log.
std::string notesMarkdown(const std::string& version, const std::string& date,
                          const std::vector<Change>& changes);

}  // namespace boucle::insight
