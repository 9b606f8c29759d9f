// The web UI's files (ui/dist, built by npm): the page at /, its hashed assets under /assets/.
// They are open to anyone, like a login page; every piece of data comes from the API, with
// the token the user signs in with.
#include <sys/stat.h>

#include "api/route_helpers.h"

namespace boucle::api {
namespace fs = std::filesystem;

namespace {

std::string contentTypeOf(const fs::path& p) {
  std::string ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".woff2") return "font/woff2";
  return "application/octet-stream";
}

// The encoding to send: brotli or gzip when the client takes it and a copy was made at build
// time (ui/scripts/compress.mjs), else none.
std::string encodingFor(const Request& req, const fs::path& p) {
  std::string accepted = req.header("accept-encoding");
  std::error_code ec;
  for (const char* e : {"br", "gzip"}) {
    if (accepted.find(e) != std::string::npos &&
        fs::exists(p.string() + (e[0] == 'b' ? ".br" : ".gz"), ec))
      return e;
  }
  return "";
}

// `name` is one path segment (the router gives no slashes); hidden files and ".." are refused.
// Sent as one response from the page cache (sendfile), with a validator: a client that has
// it gets 304.
Response serveFile(const Request& req, const fs::path& dir, const std::string& name,
                   const std::string& cache) {
  if (dir.empty()) {
    return errorResponse(404, "the web UI is not installed (build it: make ui, or give --ui DIR)");
  }
  if (name.empty() || name[0] == '.' || name.find('/') != std::string::npos) {
    return errorResponse(404, "no such file");
  }
  fs::path p = dir / name;
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return errorResponse(404, "no such file");
  std::string encoding = encodingFor(req, p);
  fs::path sent = encoding.empty() ? p : fs::path(p.string() + (encoding == "br" ? ".br" : ".gz"));
  struct stat sst {};
  if (::stat(sent.c_str(), &sst) != 0) return errorResponse(404, "no such file");
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false alarm) on "literal" + string.
  std::string etag = "\"";
  etag += std::to_string(st.st_size);
  etag += '-';
  etag += std::to_string(st.st_mtime);
  if (!encoding.empty()) etag += '-' + encoding;
  etag += '"';
  Response r;
  r.contentType = contentTypeOf(p);
  r.headers.emplace_back("Cache-Control", cache);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Vary", "Accept-Encoding");
  if (!encoding.empty()) r.headers.emplace_back("Content-Encoding", encoding);
  if (req.header("if-none-match") == etag) {
    r.status = 304;
    return r;
  }
  r.file = FileBody{sent.string(), 0, static_cast<uint64_t>(sst.st_size)};
  return r;
}

}  // namespace

void addUiRoutes(Router& r, const ApiContext& c) {
  fs::path dir = c.uiDir;
  r.add("GET", "/", Access::kPublic, [dir](const Request& req, const Params&) {
    Response res = serveFile(req, dir, "index.html", "no-cache");
    res.headers.emplace_back("Content-Security-Policy",
                             "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                             "frame-ancestors 'none'");
    return res;
  });
  // Vite names assets by their content's hash: they never change under one name.
  r.add("GET", "/assets/{file}", Access::kPublic, [dir](const Request& req, const Params& p) {
    return serveFile(req, dir / "assets", p.at("file"), "public, max-age=31536000, immutable");
  });
}

}  // namespace boucle::api
