// The HTTP transport: Boost.Beast on one io_context run by a few threads. Kept in this one
// file because Beast is the heaviest thing boucle compiles. Each session runs on a strand: a
// log stream waits on a timer, its socket and a bell at once, and only one of their handlers
// may run at a time.
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "api/http.h"
#include "api/request_target.h"

namespace boucle::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string Request::header(const std::string& lowerName) const {
  auto it = headers.find(lowerName);
  return it == headers.end() ? std::string() : it->second;
}

Response jsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response errorResponse(int status, const std::string& message) {
  std::string escaped;
  for (char c : message) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    escaped += c;
  }
  return jsonResponse(status, "{\"error\":\"" + escaped + "\"}\n");
}

namespace {

// A stream that can say when it has more (BodyStream::onMore) is still looked at this often:
// a lost wake-up costs a few seconds, not a stuck follower.
constexpr auto kWakeFallback = std::chrono::seconds(5);
// How much of a stream one handler sends before the other sessions on its thread go.
constexpr size_t kStreamTurn = 4u << 20;

// What every session of a server shares: the count of open connections, and the Host names
// the server answers to (empty: any).
struct Shared {
  std::atomic<size_t> sessions{0};
  // A client that sends or takes nothing for this long is dropped: a request's head, an
  // upload, a response, a log stream or a download it stopped reading.
  std::chrono::seconds idle{60};
  size_t maxConnections = 512;
  std::vector<std::string> hosts;
  // Open log streams per client address: a stream may stay open for hours, so one client
  // could otherwise hold every connection the server allows.
  size_t maxStreamsPerClient = 64;
  std::mutex streamsMu;
  std::map<asio::ip::address, size_t> streams;

  bool claimStream(const asio::ip::address& a) {
    if (maxStreamsPerClient == 0) return true;
    std::lock_guard lock(streamsMu);
    size_t& n = streams[a];
    if (n >= maxStreamsPerClient) return false;
    ++n;
    return true;
  }
  void releaseStream(const asio::ip::address& a) {
    std::lock_guard lock(streamsMu);
    auto it = streams.find(a);
    if (it != streams.end() && --it->second == 0) streams.erase(it);
  }
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Handler& handler, const StreamingHandler& streaming,
          size_t bodyLimit, Shared& shared)
      : stream_(std::move(socket)),
        handler_(handler),
        streaming_(streaming),
        bodyLimit_(bodyLimit),
        timer_(stream_.get_executor()),
        shared_(shared) {
    ++shared_.sessions;
  }
  ~Session() {
    if (streamClaimed_) shared_.releaseStream(peer_);
    --shared_.sessions;
  }

  void start() { readRequest(); }

 private:
  void readRequest() {
    parser_.emplace();
    // No limit while the head is read: an upload streamed to a sink may be of any size. Other
    // requests get theirs once the head says which is which (onHeader).
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_->header_limit(16 * 1024);
    stream_.expires_after(shared_.idle);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onHeader(ec); });
  }

  // The request's head as handlers see it; false for a malformed target.
  bool head(Request& req) {
    auto& msg = parser_->get();
    req.method = std::string(msg.method_string());
    if (!parseTarget(msg.target(), req)) return false;
    beast::error_code ec;
    auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec) req.peer = remote.address().to_string();
    for (auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers[name] = std::string(field.value());
    }
    return true;
  }

  void onHeader(beast::error_code ec) {
    if (ec) return close();  // end of stream, timeout, malformed request: nothing to answer
    Request req;
    if (!head(req)) {
      keepAlive_ = false;
      send(errorResponse(400, "malformed request target"), parser_->get().version());
      return;
    }
    headOnly_ = req.method == "HEAD";
    if (!shared_.hosts.empty() && std::find(shared_.hosts.begin(), shared_.hosts.end(),
                                            lower(req.header("host"))) == shared_.hosts.end()) {
      // DNS rebinding: a page elsewhere reaching a loopback server under its own name.
      keepAlive_ = false;
      return send(errorResponse(421, "this server does not answer to Host '" + req.header("host") +
                                         "' (boucle server --allowed-host NAME)"),
                  parser_->get().version());
    }
    if (streaming_) {
      Response refusal;
      refusal.status = 0;
      auto sink = streaming_(req, &refusal);
      if (refusal.status != 0) {
        keepAlive_ = false;  // its body is never read
        return send(refusal, parser_->get().version());
      }
      if (sink) return startUpload(std::move(sink));
    }
    auto length = parser_->content_length();
    if (length && *length > bodyLimit_) {
      keepAlive_ = false;
      return send(errorResponse(413, "request body too large"), parser_->get().version());
    }
    parser_->body_limit(bodyLimit_);  // a chunked body is held to it as it arrives
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onRead(ec); });
  }

  // The body in chunks of 1 MB into the sink: memory stays flat however large the upload.
  void startUpload(std::shared_ptr<BodySink> sink) {
    sink_ = std::move(sink);
    version_ = parser_->get().version();
    keepAlive_ = parser_->get().keep_alive();
    upload_.emplace(std::move(*parser_));
    upload_->body_limit(std::numeric_limits<std::uint64_t>::max());
    chunkBuffer_.resize(1 << 20);
    // Beast reads as much as the buffer has room for: without room, 512 bytes at a time.
    buffer_.reserve(1 << 20);
    if (beast::iequals(upload_->get()[http::field::expect], "100-continue")) {
      // The client waits for this before it sends the body (curl: up to a second).
      auto interim =
          std::make_shared<http::response<http::empty_body>>(http::status::continue_, version_);
      return http::async_write(stream_, *interim,
                               [self = shared_from_this(), interim](beast::error_code ec, size_t) {
                                 if (ec) {
                                   self->sink_->finish();
                                   return self->close();
                                 }
                                 self->readUploadChunk();
                               });
    }
    readUploadChunk();
  }

  void readUploadChunk() {
    auto& body = upload_->get().body();
    body.data = chunkBuffer_.data();
    body.size = chunkBuffer_.size();
    stream_.expires_after(shared_.idle);
    http::async_read_some(
        stream_, buffer_, *upload_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onUploadChunk(ec); });
  }

  void onUploadChunk(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      sink_->finish();  // the client went away mid-upload: nothing is kept
      return close();
    }
    size_t got = chunkBuffer_.size() - upload_->get().body().size;
    if (got > 0 && !sink_->write(std::string_view(chunkBuffer_.data(), got))) {
      keepAlive_ = false;
      return send(sink_->finish(), version_);
    }
    if (upload_->is_done()) {
      chunkBuffer_ = std::string();
      return send(sink_->finish(), version_);
    }
    readUploadChunk();
  }

  void onRead(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keepAlive_ = false;
      send(errorResponse(413, "request body too large"), parser_->get().version());
      return;
    }
    if (ec) return close();  // end of stream, timeout, malformed request: nothing to answer
    auto& msg = parser_->get();
    Request req;
    if (!head(req)) {
      keepAlive_ = false;
      send(errorResponse(400, "malformed request target"), msg.version());
      return;
    }
    req.body = std::move(msg.body());
    keepAlive_ = msg.keep_alive();
    Response res;
    try {
      res = handler_(req);
    } catch (const std::exception& e) {
      // A handler bug must not take the server down; the details go nowhere near the client.
      res = errorResponse(500, "internal error");
    }
    send(res, msg.version());
  }

  void send(const Response& r, unsigned version) {
    if (r.stream) return startStream(r, version);
    if (r.file) return startFile(r, version);
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version);
    res->set(http::field::server, "boucle");
    res->set(http::field::content_type, r.contentType);
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keepAlive_);
    res->body() = r.body;
    res->prepare_payload();
    if (headOnly_) res->body().clear();  // the length stays: a HEAD answers as GET would
    stream_.expires_after(shared_.idle);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec || !self->keepAlive_) return self->close();
                        self->readRequest();
                      });
  }

  // Chunked response fed by a BodyStream; one chunk in flight at a time. Between chunks the
  // session waits for the stream to say it has more (a log that grew), and watches the socket
  // so that a client that hung up is let go at once, not at the next write.
  void startStream(const Response& r, unsigned version) {
    beast::error_code ec;
    peer_ = stream_.socket().remote_endpoint(ec).address();
    if (!ec && !headOnly_ && r.stream->perClientLimited()) {
      if (!shared_.claimStream(peer_)) {
        keepAlive_ = false;
        Response busy = errorResponse(429, "too many log streams open from this address");
        busy.headers.emplace_back("Retry-After", "5");
        return send(busy, version);
      }
      streamClaimed_ = true;
    }
    body_ = r.stream;
    streamHeader_.emplace(static_cast<http::status>(r.status), version);
    streamHeader_->set(http::field::server, "boucle");
    streamHeader_->set(http::field::content_type, r.contentType);
    streamHeader_->set(http::field::cache_control, "no-cache");
    for (const auto& [k, v] : r.headers) streamHeader_->set(k, v);
    streamHeader_->chunked(!headOnly_);
    streamHeader_->keep_alive(false);
    keepAlive_ = false;
    serializer_.emplace(*streamHeader_);
    stream_.expires_after(shared_.idle);
    http::async_write_header(stream_, *serializer_,
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               if (ec || self->headOnly_) return self->close();
                               self->nextChunk();
                             });
  }

  void nextChunk() {
    if (closed_) return;
    // A reader as fast as this loop (a proxy on the same host) would keep the thread to one
    // stream: after a few MB the others on this thread have their turn.
    size_t turn = 0;
    for (;;) {
      if (turn >= kStreamTurn) {
        return asio::post(stream_.get_executor(),
                          [self = shared_from_this()] { self->nextChunk(); });
      }
      BodyStream::Piece piece = body_->next();
      if (piece.data.empty()) {
        if (piece.done) return finishStream();
        return waitForMore(piece.retryMs);
      }
      // One buffer with the chunk's framing, tried at once without waiting: a live stream's
      // pieces are small and the socket's buffer takes them, so a thousand subscribers cost a
      // thousand send(2) calls and no handler, timer or allocation of Asio's each.
      char size[20];
      int n = std::snprintf(size, sizeof size, "%zx\r\n", piece.data.size());
      chunk_.assign(size, static_cast<size_t>(n));
      chunk_ += piece.data;
      chunk_ += "\r\n";
      size_t sent = sendNow(chunk_);
      if (sent == SIZE_MAX) return close();
      if (sent < chunk_.size()) {
        // The client is slow: the rest goes the usual way, and a client that reads nothing
        // for shared_.idle is dropped (its socket buffer is full).
        chunk_.erase(0, sent);
        bool done = piece.done;
        stream_.expires_after(shared_.idle);
        return asio::async_write(stream_, asio::buffer(chunk_),
                                 [self = shared_from_this(), done](beast::error_code ec, size_t) {
                                   if (ec) return self->close();
                                   self->stream_.expires_never();
                                   if (done) return self->finishStream();
                                   self->nextChunk();
                                 });
      }
      if (piece.done) return finishStream();
      turn += sent;
    }
  }

  // What send(2) took of `data` without blocking; SIZE_MAX when the client is gone.
  size_t sendNow(const std::string& data) {
    int sock = stream_.socket().native_handle();
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(sock, data.data() + sent, data.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        return SIZE_MAX;
      }
    }
    return sent;
  }

  void waitForMore(int retryMs) {
    if (retryMs == 0) {
      // The stream asks to be read again at once (its job just ended): no waiting.
      return asio::post(stream_.get_executor(), [self = shared_from_this()] { self->nextChunk(); });
    }
    waiting_ = true;
    stream_.expires_never();  // a quiet log is not a slow client
    std::weak_ptr<Session> weak = weak_from_this();
    auto executor = stream_.get_executor();
    bool told = body_->onMore([weak, executor] {
      asio::post(executor, [weak] {
        if (auto self = weak.lock()) self->woken();
      });
    });
    // A stream that tells keeps one fallback timer armed across its wake-ups rather than
    // re-arming it after each event; one that cannot tell is looked at after retryMs.
    if (!told || !timerArmed_) {
      timerArmed_ = true;
      timer_.expires_after(
          told ? std::chrono::duration_cast<std::chrono::milliseconds>(kWakeFallback)
               : std::chrono::milliseconds(retryMs));
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec == asio::error::operation_aborted) return;
        self->timerArmed_ = false;
        self->woken();
      });
    }
    if (!watchingHangup_) {
      watchingHangup_ = true;
      stream_.socket().async_wait(
          tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
            self->watchingHangup_ = false;
            if (ec) return;
            char c;
            ssize_t n =
                ::recv(self->stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN)) self->close();
          });
    }
  }

  void woken() {
    if (!waiting_ || closed_) return;
    waiting_ = false;
    nextChunk();
  }

  // The header with the length, then the file by sendfile(2), a few MB per turn so that other
  // sessions on this thread are not kept waiting behind a large download.
  void startFile(const Response& r, unsigned version) {
    fileFd_ = ::open(r.file->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fileFd_ < 0) return send(errorResponse(500, "internal error"), version);
    fileOffset_ = static_cast<off_t>(r.file->offset);
    fileLeft_ = r.file->length;
    streamHeader_.emplace(static_cast<http::status>(r.status), version);
    streamHeader_->set(http::field::server, "boucle");
    streamHeader_->set(http::field::content_type, r.contentType);
    for (const auto& [k, v] : r.headers) streamHeader_->set(k, v);
    streamHeader_->content_length(fileLeft_);
    streamHeader_->keep_alive(keepAlive_);
    serializer_.emplace(*streamHeader_);
    if (headOnly_) fileLeft_ = 0;  // the length is said, the bytes are not sent
    stream_.expires_after(shared_.idle);
    http::async_write_header(stream_, *serializer_,
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->close();
                               self->stream_.expires_never();
                               self->stream_.socket().native_non_blocking(true, ec);
                               if (ec) return self->close();
                               self->sendFilePart();
                             });
  }

  void sendFilePart() {
    int sock = stream_.socket().native_handle();
    size_t turn = 0;
    while (fileLeft_ > 0) {
      ssize_t n = ::sendfile(sock, fileFd_, &fileOffset_, std::min<uint64_t>(fileLeft_, 1 << 20));
      if (n > 0) {
        fileLeft_ -= static_cast<uint64_t>(n);
        if ((turn += static_cast<size_t>(n)) >= (8u << 20) && fileLeft_ > 0) {
          return asio::post(stream_.get_executor(),
                            [self = shared_from_this()] { self->sendFilePart(); });
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // A client that takes nothing for shared_.idle is dropped.
        timer_.expires_after(shared_.idle);
        timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
          if (ec != asio::error::operation_aborted) self->close();
        });
        return stream_.socket().async_wait(tcp::socket::wait_write,
                                           [self = shared_from_this()](beast::error_code ec) {
                                             self->timer_.cancel();
                                             if (ec) return self->close();
                                             self->sendFilePart();
                                           });
      }
      return close();  // the client went away, or the file shrank under us
    }
    ::close(fileFd_);
    fileFd_ = -1;
    if (!keepAlive_) return close();
    stream_.expires_after(shared_.idle);
    readRequest();
  }

  void finishStream() {
    stream_.expires_after(shared_.idle);
    asio::async_write(stream_, http::make_chunk_last(),
                      [self = shared_from_this()](beast::error_code, size_t) { self->close(); });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    body_.reset();  // a log stream stops listening for its bell
    beast::error_code ec;
    if (fileFd_ >= 0) ::close(fileFd_);
    fileFd_ = -1;
    timer_.cancel();
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  const Handler& handler_;
  const StreamingHandler& streaming_;
  size_t bodyLimit_;
  std::shared_ptr<BodySink> sink_;
  std::optional<http::request_parser<http::buffer_body>> upload_;
  std::string chunkBuffer_;
  unsigned version_ = 11;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keepAlive_ = true;
  asio::steady_timer timer_;
  std::shared_ptr<BodyStream> body_;
  std::optional<http::response<http::empty_body>> streamHeader_;
  std::optional<http::response_serializer<http::empty_body>> serializer_;
  std::string chunk_;
  int fileFd_ = -1;
  off_t fileOffset_ = 0;
  uint64_t fileLeft_ = 0;
  bool headOnly_ = false;  // a HEAD request: headers only
  bool waiting_ = false;   // a stream waits for more (bell or timer)
  bool watchingHangup_ = false;
  bool timerArmed_ = false;  // the stream's fallback timer is pending
  bool closed_ = false;
  bool streamClaimed_ = false;  // counted in shared_.streams under peer_
  asio::ip::address peer_;
  Shared& shared_;
};

class BeastServer : public HttpServer {
 public:
  BeastServer(Handler handler, StreamingHandler streaming, size_t bodyLimit, size_t threads)
      : handler_(std::move(handler)),
        streaming_(std::move(streaming)),
        bodyLimit_(bodyLimit),
        threads_(std::max<size_t>(1, threads)),
        ioc_(static_cast<int>(threads_)),
        acceptor_(ioc_),
        backoff_(ioc_) {}

  bool bind(const ServerOptions& o, std::string* error) {
    beast::error_code ec;
    auto addr = asio::ip::make_address(o.address, ec);
    if (ec) {
      *error = "bad listen address " + o.address;
      return false;
    }
    tcp::endpoint ep(addr, o.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      *error = "cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " + ec.message();
      return false;
    }
    shared_.maxConnections = o.maxConnections;
    shared_.idle = std::chrono::seconds(std::max(1, o.clientTimeoutSeconds));
    shared_.maxStreamsPerClient = o.maxStreamsPerClient;
    if (addr.is_loopback()) {
      std::string port = std::to_string(this->port());
      std::string self = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
      // With or without the port: what matters is that the name is this machine's own, not
      // a name an attacker's page was served from.
      for (const std::string& h :
           {self, std::string("localhost"), std::string("127.0.0.1"), std::string("[::1]")}) {
        shared_.hosts.push_back(h + ":" + port);
        shared_.hosts.push_back(h);
      }
      for (const auto& h : o.allowedHosts) {
        shared_.hosts.push_back(lower(h));
        if (h.find(':') == std::string::npos) shared_.hosts.push_back(lower(h) + ":" + port);
      }
    }
    return true;
  }

  uint16_t port() const override { return acceptor_.local_endpoint().port(); }

  void run() override {
    accept();
    std::vector<std::thread> extra;
    for (size_t i = 1; i < threads_; ++i) extra.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : extra) t.join();
  }

  void stop() override {
    asio::post(ioc_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      ioc_.stop();
    });
  }

 private:
  void accept() {
    // Each connection on a strand of its own: a waiting log stream has a timer, a watch on
    // its socket and a bell's wake-up pending at once, and their handlers must not run on
    // the server's two threads at the same time.
    acceptor_.async_accept(
        asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
          if (ec) {
            if (!acceptor_.is_open()) return;
            // Out of descriptors (EMFILE) or memory: accepting again at once would spin. Existing
            // connections go on; new ones wait in the backlog.
            backoff_.expires_after(std::chrono::milliseconds(100));
            backoff_.async_wait([this](beast::error_code) {
              if (acceptor_.is_open()) accept();
            });
            return;
          }
          // Responses go out as they are written: a header then a file must not wait for the
          // client's delayed ACK (Nagle's algorithm), 40 ms a response on a kept-alive connection.
          socket.set_option(tcp::no_delay(true), ec);
          if (shared_.sessions >= shared_.maxConnections) {
            static const char kBusy[] =
                "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n";
            socket.non_blocking(true, ec);
            [[maybe_unused]] ssize_t n = ::send(socket.native_handle(), kBusy, sizeof kBusy - 1,
                                                MSG_NOSIGNAL | MSG_DONTWAIT);
            socket.close(ec);
          } else {
            std::make_shared<Session>(std::move(socket), handler_, streaming_, bodyLimit_, shared_)
                ->start();
          }
          accept();
        });
  }

  Handler handler_;
  StreamingHandler streaming_;
  size_t bodyLimit_;
  size_t threads_;
  // Before the io_context: sessions its destructor frees still count themselves out of it.
  Shared shared_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer backoff_;
};

}  // namespace

std::unique_ptr<HttpServer> HttpServer::create(const ServerOptions& options, Handler handler,
                                               std::string* error) {
  auto s = std::make_unique<BeastServer>(std::move(handler), options.streaming, options.bodyLimit,
                                         options.threads);
  if (!s->bind(options, error)) return nullptr;
  return s;
}

}  // namespace boucle::api
