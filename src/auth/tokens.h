#pragma once
// API tokens: random, shown once, stored only as a hash. Tokens carry 256 bits of randomness,
// so a fast hash (SHA-256) is enough to store them: unlike passwords they cannot be guessed
// from a dictionary, and the lookup by hash stays a single index probe.

#include <string>
#include <string_view>

namespace boucle::auth {

// "bcl_" + 43 base64url characters.
std::string newToken();
std::string hashToken(std::string_view token);
// Random text for webhook secrets and the like (hex, `bytes` of randomness).
std::string randomHex(size_t bytes);

// Compares without leaking, through timing, where two strings first differ.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace boucle::auth
