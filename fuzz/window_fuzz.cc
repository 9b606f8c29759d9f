// Deploy windows ("Sat 02:00-05:00", "Mon-Fri 22:00-06:00"): parsed into valid minutes and
// days, or refused with a reason.
#include <cstdint>
#include <string>

#include "pipeline/pipeline.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto w = boucle::pipeline::parseWindow(text, &error);
  if (!w) {
    if (error.empty()) __builtin_trap();
    return 0;
  }
  if (w->days == 0 || w->days >= 128 || w->startMinute < 0 || w->startMinute >= 1440 ||
      w->endMinute < 0 || w->endMinute > 1440)
    __builtin_trap();
  return 0;
}
