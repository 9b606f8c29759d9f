// Deploy templates (mustache) from a release's files: rendered or refused; a name without a
// value is an error, never an empty string.
#include <cstdint>
#include <string>

#include "deploy/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const boucle::deploy::TemplateValues values = {
      {"env.url", "http://127.0.0.1:8080"}, {"env.port", "8080"},
      {"release.version", "1.2.3"},         {"release.dir", "/srv/app/releases/1.2.3"},
      {"commit.sha", "0123456789abcdef"},   {"host.name", "web1"}};
  std::string text(reinterpret_cast<const char*>(data), size);
  auto r = boucle::deploy::renderTemplate(text, values, "fuzz");
  if (!r.ok() && r.status().message().empty()) __builtin_trap();
  return 0;
}
