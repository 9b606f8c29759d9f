#pragma once
// The command line's and the agent's https:// calls. They go through libcurl, loaded at the
// first such call (os/curl.h): Beast's TLS would link OpenSSL into the one `boucle` binary and
// load it at every server start, which speaks plain HTTP behind its proxy.

#include <functional>
#include <string>
#include <string_view>

#include "cli/http_client.h"

namespace boucle::cli {

// As httpCall and httpStream, over TLS: the server's certificate is checked against the
// system's authorities, or `e.caFile`'s, and must name `e.host`.
Result<HttpResult> httpsCall(const Endpoint& e, const std::string& method,
                             const std::string& target, const std::string& body,
                             const CallOptions* options);
Result<int> httpsStream(const Endpoint& e, const std::string& target,
                        const std::function<bool(std::string_view)>& onData);

}  // namespace boucle::cli
