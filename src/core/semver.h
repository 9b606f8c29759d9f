#pragma once
// Release versions: semantic versions (semver.org 2.0), without build metadata.

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace boucle {

struct Version {
  int major = 0, minor = 0, patch = 0;
  std::string pre;  // "rc.1" in 1.0.0-rc.1; "" for a release

  std::string str() const;
  // Precedence as semver defines it: a pre-release sorts before its release; pre-release
  // identifiers compare numerically when both are numbers, else as text.
  std::strong_ordering operator<=>(const Version& o) const;
  bool operator==(const Version& o) const = default;
};

// "1.2.3", "1.2.3-rc.1", or a tag such as "v1.2.3". No leading zeros, no build metadata.
std::optional<Version> parseVersion(std::string_view text);

enum class Bump { kNone, kPatch, kMinor, kMajor };
// The next version after `v`: a major bump resets minor and patch, and so on. Before 1.0.0 a
// breaking change bumps the minor version (semver's "anything may change" range), as
// semantic-release and cargo do.
Version bumped(const Version& v, Bump b);

}  // namespace boucle
