#pragma once
// The command line's HTTP client (Boost.Beast, synchronous; the only other Beast file).

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "core/status.h"

namespace boucle::cli {

struct Endpoint {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  std::string token;
  bool tls = false;    // https:// (cli/https_client.h)
  std::string caFile;  // BOUCLE_CA_FILE: the authority that signed the server's certificate
};

// From --server/--token or BOUCLE_SERVER/BOUCLE_TOKEN; server URLs look like http://HOST:PORT
// or https://HOST[:PORT].
Result<Endpoint> endpointFrom(const std::string& server, const std::string& token);

struct HttpResult {
  int status = 0;
  std::string body;
};

Result<HttpResult> httpCall(const Endpoint& e, const std::string& method, const std::string& target,
                            const std::string& body = "");
// For callers that must not hang on a server or network that stopped answering (the agent):
// the whole call (connect, send, receive) ends in Io after `timeout`.
struct CallOptions {
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  std::string contentType = "application/json";
  std::filesystem::path bodyFile;  // set: the body is this file's bytes (`body` is ignored)
  std::filesystem::path saveTo;    // set: a 2xx body is written to this file, not returned
  // Set: the call ends (Cancelled) soon after this turns true (an agent stopping mid-poll).
  const std::atomic<bool>* abandon = nullptr;
};
Result<HttpResult> httpCall(const Endpoint& e, const std::string& method, const std::string& target,
                            const std::string& body, const CallOptions& options);

// Streams the body to `onData` as it arrives (chunked responses such as followed logs and
// live events), until it ends or `onData` says false. The response's status.
Result<int> httpStream(const Endpoint& e, const std::string& target,
                       const std::function<bool(std::string_view)>& onData);

}  // namespace boucle::cli
