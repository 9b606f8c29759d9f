#pragma once
// What a job's (or a deploy step's) environment takes from boucle's own: this one allow-list,
// whoever runs it (`boucle run`, the server's agent, a deploy). Everything else of boucle's
// environment — its tokens, proxies' credentials, whatever the operator exported — stays out;
// a job then adds its own variables, its secrets and the BOUCLE_* ones.

#include <string>
#include <vector>

namespace boucle::runner {

// "NAME=value" for PATH, HOME, USER, LOGNAME, LANG, LC_ALL, LC_CTYPE, TZ, TERM and TMPDIR as
// this process has them; PATH defaults to /usr/local/bin:/usr/bin:/bin.
std::vector<std::string> inheritedEnvironment();

}  // namespace boucle::runner
