#pragma once
// Durations as written in pipeline files: "500ms", "30s", "10m", "1h30m", "2d", "12w".

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace boucle {

using Millis = std::chrono::milliseconds;

// Accepts one or more <integer><unit> groups with units ms, s, m, h, d; no sign, no spaces,
// no bare numbers (a bare "10" is ambiguous, so it is refused rather than guessed).
std::optional<Millis> parseDuration(std::string_view text);

// A size: "500M", "20G", "1T" (powers of 1024) or a number of bytes. nullopt for anything
// else, for zero with a unit, and for a size beyond what 64 bits hold.
std::optional<uint64_t> parseSize(std::string_view text);

// The shortest exact spelling: 90000ms -> "1m30s", 1500ms -> "1.5s" for display.
std::string formatDuration(Millis d);

}  // namespace boucle
