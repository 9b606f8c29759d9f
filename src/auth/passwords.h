#pragma once
// People's passwords: hashed with Argon2id (libsodium's crypto_pwhash_str, its own salt and
// parameters in the stored text), checked in constant time. Unlike tokens, passwords can be
// guessed from a dictionary, so their hash is deliberately slow and memory-hard.

#include <string>
#include <string_view>

#include "core/status.h"

namespace boucle::auth {

// The text to store for `password`; Invalid when it is too short or too long to be one.
Result<std::string> hashPassword(std::string_view password);
// Whether `password` is the one `stored` was made from. An empty `stored` (no such person, or
// one without a password) costs the same time and says false, so a guess cannot tell an
// unknown name from a wrong password by the time the answer takes.
bool checkPassword(std::string_view stored, std::string_view password);

// What a password must be: 10 to 1024 bytes. "" when `password` is one.
std::string passwordProblem(std::string_view password);

}  // namespace boucle::auth
