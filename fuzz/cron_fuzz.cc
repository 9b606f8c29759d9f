// Cron expressions from a pipeline file: parsed or refused, and a parsed one always has a next
// firing after any time.
#include <cstdint>
#include <ctime>
#include <string>

#include "core/cron.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto cron = boucle::Cron::parse(text, &error);
  if (!cron) {
    if (error.empty()) __builtin_trap();
    return 0;
  }
  time_t after = 1764547200;        // 2025-12-01
  time_t next = cron->next(after);  // -1: never (February 31)
  if (next != static_cast<time_t>(-1) && next <= after) __builtin_trap();
  return 0;
}
