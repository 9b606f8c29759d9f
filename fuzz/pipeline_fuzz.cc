// The pipeline parser on any text: it reports errors with positions, never crashes.
#include <cstdint>
#include <string>

#include "pipeline/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto r = boucle::pipeline::parsePipeline(text);
  for (const auto& d : r.errors) {
    std::string line = boucle::pipeline::formatDiagnostic(".boucle.yml", d);
    if (line.empty()) __builtin_trap();
  }
  return 0;
}
