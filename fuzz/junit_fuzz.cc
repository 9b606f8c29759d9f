// JUnit reports are the job's own files: any bytes are read within bounds or refused.
#include <cstdint>
#include <string_view>

#include "runner/junit.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = boucle::runner::parseJUnit(std::string_view(reinterpret_cast<const char*>(data), size));
  if (r.ok()) {
    if (r->failed.size() > 1000) __builtin_trap();
    for (const auto& f : r->failed) {
      if (f.message.size() > 1010 || f.details.size() > 4000) __builtin_trap();
    }
  }
  return 0;
}
