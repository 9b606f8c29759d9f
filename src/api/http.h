#pragma once
// HTTP as the rest of boucle sees it: plain request and response values. Only
// http_server.cc and the client know about Boost.Beast (heavy to compile), so handlers,
// routing and tests stay light.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boucle::api {

struct Request {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // decoded, without the query (for messages)
  std::vector<std::string> segments;           // the path's segments, each decoded on its own
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  // Who is asking ("" when nobody signed): a service token's name, or a person's, whether they
  // signed in (a session) or came with one of their tokens.
  std::string actor;
  std::vector<std::string> roles;  // what they may do (see auth/roles.h)
  std::string via;                 // a person's token: its name ("" otherwise)
  std::string session;             // a person signed in: the session's public id
  std::string peer;                // the client's address, as the connection shows it
  // An agent token's pins (none: any): the labels it claims with, the projects it claims for.
  std::vector<std::string> agentLabels, agentProjects;
  std::string header(const std::string& lowerName) const;
};

// A body produced piece by piece (live logs): the server calls next() until it says done,
// waiting `retryMs` when a call produced nothing. Memory stays bounded by the pieces.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  struct Piece {
    std::string data;
    bool done = false;
    int retryMs = 100;
  };
  virtual Piece next() = 0;
  // Asks to be told when next() may have more (its source grew or ended): `wake` is called
  // once, from any thread. False when the stream cannot tell: the caller then polls after
  // retryMs. A stream that can calls `wake` at once if something came since its last next().
  virtual bool onMore(std::function<void()> /*wake*/) { return false; }
  // Whether it counts against --max-streams-per-client (followers may stay for hours; an
  // agent's long poll ends within seconds, and many agents may share a proxy's address).
  virtual bool perClientLimited() const { return true; }
};

// A part of a file sent as the body, with its length known up front (Content-Length), by
// sendfile(2): the bytes go from the page cache to the socket without being copied through
// boucle (artifact downloads).
struct FileBody {
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct Response {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<BodyStream> stream;  // set: sent chunked, `body` ignored
  std::optional<FileBody> file;        // set: sent from the file, `body` ignored
};

Response jsonResponse(int status, std::string body);
// {"error": message} with the status; the message must not contain secrets.
Response errorResponse(int status, const std::string& message);

using Handler = std::function<Response(const Request&)>;

// A request body consumed as it arrives (uploads), never held whole in memory.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // False stops the upload; the answer is then finish()'s.
  virtual bool write(std::string_view bytes) = 0;
  // Called once: after the whole body, or after write() said false.
  virtual Response finish() = 0;
};
// Sees each request's head before its body is read: returns a sink to stream the body into,
// or null for an ordinary request (body read whole, up to bodyLimit). A refusal (status set,
// e.g. 401) is answered at once and the body is never read.
using StreamingHandler =
    std::function<std::shared_ptr<BodySink>(const Request& head, Response* refusal)>;

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;        // 0: pick a free port
  size_t bodyLimit = 1 << 20;  // larger bodies are answered 413
  size_t threads = 2;          // threads serving requests
  StreamingHandler streaming;  // optional: bodies streamed to a sink (no size limit)
  // Connections open at once; one more is answered 503 and closed.
  size_t maxConnections = 512;
  // A client that sends or reads nothing for this long is dropped.
  int clientTimeoutSeconds = 60;
  // Log streams (followers) one client address may hold open at once; one more is answered
  // 429. 0: no limit (behind a proxy every client has the proxy's address).
  size_t maxStreamsPerClient = 64;
  // On a loopback address, requests must name this server in their Host header (its address
  // or localhost, with its port) or one of these: a web page on another site cannot reach it
  // through a DNS name rebound to 127.0.0.1. Ignored on other addresses.
  std::vector<std::string> allowedHosts;
};

class HttpServer {
 public:
  // Binds at once (so the port is known and a taken port is an error before start()).
  static std::unique_ptr<HttpServer> create(const ServerOptions& options, Handler handler,
                                            std::string* error);
  virtual ~HttpServer() = default;
  virtual uint16_t port() const = 0;
  // Serves on the calling thread until stop() (callable from any thread or a signal watcher).
  virtual void run() = 0;
  virtual void stop() = 0;
};

}  // namespace boucle::api
