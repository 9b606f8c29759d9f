#pragma once
// Byte encodings and text splitting shared across parts: hex for digests and random names,
// base64 for sealed secrets and HTTP Basic credentials (both through libsodium's constant-time
// coders), splitting of line- or NUL-separated tool output, and quoting for POSIX shells.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boucle {

std::string hexOf(const void* data, size_t size);  // lower-case
// The bytes a hex string spells; nullopt when it is not hex (or has an odd length).
std::optional<std::string> bytesOfHex(std::string_view hex);
std::string base64Of(const void* data, size_t size);
// The bytes base64 (the original alphabet, padded) spells; nullopt when it is not base64.
std::optional<std::string> bytesOfBase64(std::string_view text);
inline std::string base64Of(std::string_view s) {
  return base64Of(s.data(), s.size());
}

// The pieces of `text` between `sep`s; a final `sep` ends the last piece rather than starting
// an empty one, and empty text has no pieces.
std::vector<std::string> split(std::string_view text, char sep);

// `s` cut to at most `max` bytes at a character's start, never inside a UTF-8 sequence (texts
// from outside that end up in the database, on pages and in metrics' labels).
std::string cutUtf8(std::string s, size_t max);

// Whether `s` is well-formed UTF-8 without NUL bytes, and a copy of it that is: each byte of a
// malformed sequence, and each NUL, becomes U+FFFD. For a database whose text must be UTF-8
// (PostgreSQL), fed with texts from outside (a commit subject in Latin-1).
bool isCleanUtf8(std::string_view s);
std::string cleanUtf8(std::string_view s);

// `s` as one URL path segment or query value: every byte but letters, digits and -_.~ as %XX.
std::string urlEncode(std::string_view s);

// `s` as one word for a POSIX shell, whatever it holds: in single quotes, each ' spelled '\''.
// For the command lines a remote shell reads (ssh), where an argv cannot be passed.
std::string shellQuote(std::string_view s);

}  // namespace boucle
