#include "cli/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/file_body.hpp>
#include <cstdlib>
#include <vector>

#include "cli/https_client.h"

namespace boucle::cli {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Result<Endpoint> endpointFrom(const std::string& server, const std::string& token) {
  Endpoint e;
  std::string url = server;
  if (url.empty()) {
    const char* env = std::getenv("BOUCLE_SERVER");
    url = env && *env ? env : "http://127.0.0.1:8080";
  }
  e.token = token;
  if (e.token.empty()) {
    const char* env = std::getenv("BOUCLE_TOKEN");
    if (env) e.token = env;
  }
  e.tls = url.starts_with("https://");
  if (!e.tls && !url.starts_with("http://")) {
    return Status::Invalid("server URL must start with http:// or https:// (got " + url + ")");
  }
  if (const char* ca = std::getenv("BOUCLE_CA_FILE"); ca && *ca) e.caFile = ca;
  std::string rest = url.substr(e.tls ? 8 : 7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find_first_of("/?#@") != std::string::npos) {
    return Status::Invalid("server URL must be scheme://HOST[:PORT], with no path (got " + url +
                           ")");
  }
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) {
    e.host = rest;
    e.port = e.tls ? "443" : "80";
  } else {
    e.host = rest.substr(0, colon);
    e.port = rest.substr(colon + 1);
  }
  if (e.host.empty()) return Status::Invalid("no host in server URL " + url);
  return e;
}

namespace {

Status connect(beast::tcp_stream& stream, const Endpoint& e, asio::io_context& ioc) {
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(e.host, e.port, ec);
  if (!ec) stream.connect(results, ec);
  if (ec) {
    return Status::Io("cannot reach the boucle server at http://" + e.host + ":" + e.port + ": " +
                      ec.message());
  }
  return Status::Ok();
}

http::request<http::string_body> makeRequest(const Endpoint& e, http::verb verb,
                                             const std::string& target, const std::string& body) {
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, e.port == "80" ? e.host : e.host + ":" + e.port);
  req.set(http::field::user_agent, "boucle-cli");
  if (!e.token.empty()) req.set(http::field::authorization, "Bearer " + e.token);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  return req;
}

}  // namespace

Result<HttpResult> httpCall(const Endpoint& e, const std::string& method, const std::string& target,
                            const std::string& body) {
  if (e.tls) return httpsCall(e, method, target, body, nullptr);
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  if (auto st = connect(stream, e, ioc); !st.ok()) return st;
  auto req = makeRequest(e, http::string_to_verb(method), target, body);
  beast::error_code ec;
  http::write(stream, req, ec);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256u << 20);
  if (!ec) http::read(stream, buffer, parser, ec);
  if (ec) return Status::Io("request to the boucle server failed: " + ec.message());
  return HttpResult{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

namespace {

// One request with a deadline over all of it: Beast's timeouts hold only for asynchronous
// operations, so the call is made of them and run to its end here.
template <class RequestBody>
Result<HttpResult> timedCall(const Endpoint& e, http::request<RequestBody>& req,
                             const CallOptions& o) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(e.host, e.port, ec);
  if (ec) return Status::Io("cannot resolve " + e.host + ": " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> head;
  head.body_limit(64u << 20);
  std::optional<http::response_parser<http::file_body>> toFile;
  HttpResult out;
  beast::error_code failed;
  stream.expires_after(o.timeout);
  stream.async_connect(results, [&](beast::error_code c, const tcp::endpoint&) {
    if (c) return void(failed = c);
    http::async_write(stream, req, [&](beast::error_code w, size_t) {
      if (w) return void(failed = w);
      http::async_read_header(stream, buffer, head, [&](beast::error_code h, size_t) {
        if (h) return void(failed = h);
        out.status = static_cast<int>(head.get().result_int());
        if (!o.saveTo.empty() && out.status / 100 == 2) {
          toFile.emplace(std::move(head));
          toFile->body_limit(boost::none);
          beast::error_code f;
          toFile->get().body().open(o.saveTo.c_str(), beast::file_mode::write, f);
          if (f) return void(failed = f);
          return http::async_read(stream, buffer, *toFile,
                                  [&](beast::error_code r, size_t) { failed = r; });
        }
        http::async_read(stream, buffer, head, [&](beast::error_code r, size_t) {
          failed = r;
          out.body = head.get().body();
        });
      });
    });
  });
  if (!o.abandon) {
    ioc.run();
  } else {
    while (!ioc.stopped()) {
      ioc.run_for(std::chrono::milliseconds(100));
      if (*o.abandon && !ioc.stopped()) {
        stream.cancel();
        ioc.run();  // the handlers end with operation_aborted
        return Status::Cancelled("abandoned");
      }
    }
  }
  if (failed == beast::error::timeout)
    return Status::Io("the boucle server at " + e.host + ":" + e.port + " did not answer in time");
  if (failed) return Status::Io("request to the boucle server failed: " + failed.message());
  return out;
}

}  // namespace

Result<HttpResult> httpCall(const Endpoint& e, const std::string& method, const std::string& target,
                            const std::string& body, const CallOptions& o) {
  if (e.tls) return httpsCall(e, method, target, body, &o);
  auto verb = http::string_to_verb(method);
  if (!o.bodyFile.empty()) {
    http::request<http::file_body> req{verb, target, 11};
    req.set(http::field::host, e.port == "80" ? e.host : e.host + ":" + e.port);
    req.set(http::field::user_agent, "boucle-agent");
    if (!e.token.empty()) req.set(http::field::authorization, "Bearer " + e.token);
    req.set(http::field::content_type, o.contentType);
    beast::error_code ec;
    req.body().open(o.bodyFile.c_str(), beast::file_mode::scan, ec);
    if (ec) return Status::Io("cannot read " + o.bodyFile.string() + ": " + ec.message());
    req.prepare_payload();
    return timedCall(e, req, o);
  }
  auto req = makeRequest(e, verb, target, body);
  if (!body.empty()) req.set(http::field::content_type, o.contentType);
  return timedCall(e, req, o);
}

Result<int> httpStream(const Endpoint& e, const std::string& target,
                       const std::function<bool(std::string_view)>& onData) {
  if (e.tls) return httpsStream(e, target, onData);
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  if (auto st = connect(stream, e, ioc); !st.ok()) return st;
  auto req = makeRequest(e, http::verb::get, target, "");
  beast::error_code ec;
  http::write(stream, req, ec);
  if (ec) return Status::Io("request to the boucle server failed: " + ec.message());
  beast::flat_buffer buffer;
  buffer.reserve(1 << 20);  // else Beast reads a few hundred bytes at a time
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);  // a followed log has no size limit; pieces are bounded
  http::read_header(stream, buffer, parser, ec);
  if (ec) return Status::Io("reading the response failed: " + ec.message());
  std::vector<char> piece(1 << 20);
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    http::read_some(stream, buffer, parser, ec);  // returns as soon as some body arrived
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return Status::Io("reading the response failed: " + ec.message());
    if (!onData({piece.data(), piece.size() - parser.get().body().size})) break;
  }
  return static_cast<int>(parser.get().result_int());
}

}  // namespace boucle::cli
