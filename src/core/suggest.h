#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boucle {

// The candidate closest to `word` by edit distance, if it is close enough to be a plausible typo
// (at most a third of the word's length, and at least one edit allowed).
std::optional<std::string> closestMatch(std::string_view word,
                                        const std::vector<std::string_view>& candidates);

size_t editDistance(std::string_view a, std::string_view b);

}  // namespace boucle
