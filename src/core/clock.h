#pragma once
// Wall-clock time as boucle records it: milliseconds since the Unix epoch.

#include <chrono>
#include <cstdint>

namespace boucle {

inline int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace boucle
