#include "runner/job_env.h"

#include <cstdlib>

namespace boucle::runner {

std::vector<std::string> inheritedEnvironment() {
  std::vector<std::string> env;
  for (const char* name :
       {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "TMPDIR"}) {
    if (const char* v = std::getenv(name)) env.push_back(std::string(name) + "=" + v);
  }
  if (!std::getenv("PATH")) env.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
  return env;
}

}  // namespace boucle::runner
