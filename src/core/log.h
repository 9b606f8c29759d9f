#pragma once
// The server's own log: one line per event on stderr, with a UTC timestamp and a level.
// Never given secrets: callers log names and ids, not values.

#include <string_view>

namespace boucle {

void logInfo(std::string_view message);
void logError(std::string_view message);

}  // namespace boucle
