#include "cli/https_client.h"

#include <cstdio>
#include <memory>

#include "os/curl.h"

namespace boucle::cli {

namespace {

struct Transfer {
  Transfer(const os::CurlApi& api, CURL* handle, const CallOptions* options)
      : k(api), c(handle), o(options) {}
  const os::CurlApi& k;
  CURL* c;
  const CallOptions* o;
  std::string body;
  size_t maxBody = 64u << 20;
  std::unique_ptr<FILE, int (*)(FILE*)> saved{nullptr, fclose};
  bool savedFailed = false;
  const std::function<bool(std::string_view)>* onData = nullptr;
  bool stopped = false;  // onData said enough
};

long statusOf(const Transfer& t) {
  long status = 0;
  t.k.easyGetinfo(t.c, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

size_t received(char* p, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (t->onData) {
    if (!(*t->onData)({p, len})) {
      t->stopped = true;
      return 0;  // ends the transfer
    }
    return len;
  }
  // A 2xx answer goes to the file asked for; anything else is read, to say what went wrong.
  if (t->o && !t->o->saveTo.empty() && statusOf(*t) / 100 == 2) {
    if (!t->saved) t->saved.reset(std::fopen(t->o->saveTo.c_str(), "wbe"));
    if (!t->saved || std::fwrite(p, 1, len, t->saved.get()) != len) {
      t->savedFailed = true;
      return 0;
    }
    return len;
  }
  if (t->body.size() + len > t->maxBody) return 0;
  t->body.append(p, len);
  return len;
}

size_t sent(char* p, size_t size, size_t n, void* user) {
  return std::fread(p, 1, size * n, static_cast<FILE*>(user));
}

int progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->o && t->o->abandon && t->o->abandon->load() ? 1 : 0;
}

using Headers = std::unique_ptr<curl_slist, void (*)(curl_slist*)>;

// One transfer, as httpCall and httpStream make it.
Result<long> perform(const Endpoint& e, const std::string& method, const std::string& target,
                     const std::string& body, Transfer& t) {
  const os::CurlApi& k = t.k;
  CURL* c = t.c;
  std::string url = "https://" + e.host + ":" + e.port + target;
  k.easySetopt(c, CURLOPT_URL, url.c_str());
  k.easySetopt(c, CURLOPT_PROTOCOLS_STR, "https");
  k.easySetopt(c, CURLOPT_NOSIGNAL, 1L);
  k.easySetopt(c, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
  if (!e.caFile.empty()) {
    // That authority alone: the system's are not asked as well.
    k.easySetopt(c, CURLOPT_CAINFO, e.caFile.c_str());
    k.easySetopt(c, CURLOPT_CAPATH, nullptr);
  }
  char error[CURL_ERROR_SIZE] = {};
  k.easySetopt(c, CURLOPT_ERRORBUFFER, error);
  Headers headers(nullptr, k.slistFreeAll);
  auto add = [&](const std::string& h) {
    headers.reset(k.slistAppend(headers.release(), h.c_str()));
  };
  add(t.o && !t.o->bodyFile.empty() ? "User-Agent: boucle-agent" : "User-Agent: boucle-cli");
  if (!e.token.empty()) add("Authorization: Bearer " + e.token);
  add("Expect:");  // no 100-continue round trip before an upload
  std::unique_ptr<FILE, int (*)(FILE*)> upload(nullptr, fclose);
  if (t.o && !t.o->bodyFile.empty()) {
    upload.reset(std::fopen(t.o->bodyFile.c_str(), "rbe"));
    if (!upload) return Status::Io("cannot read " + t.o->bodyFile.string());
    std::error_code ec;
    auto size = std::filesystem::file_size(t.o->bodyFile, ec);
    add("Content-Type: " + t.o->contentType);
    k.easySetopt(c, CURLOPT_POST, 1L);
    k.easySetopt(c, CURLOPT_READFUNCTION, sent);
    k.easySetopt(c, CURLOPT_READDATA, upload.get());
    k.easySetopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(size));
  } else if (method != "GET" || !body.empty()) {
    if (!body.empty())
      add("Content-Type: " + (t.o ? t.o->contentType : std::string("application/json")));
    k.easySetopt(c, CURLOPT_POSTFIELDS, body.data());
    k.easySetopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  k.easySetopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  k.easySetopt(c, CURLOPT_HTTPHEADER, headers.get());
  k.easySetopt(c, CURLOPT_WRITEFUNCTION, received);
  k.easySetopt(c, CURLOPT_WRITEDATA, &t);
  if (t.o) {
    k.easySetopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(t.o->timeout.count()));
    k.easySetopt(c, CURLOPT_NOPROGRESS, 0L);
    k.easySetopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    k.easySetopt(c, CURLOPT_XFERINFODATA, &t);
  }
  CURLcode rc = k.easyPerform(c);
  if (rc == CURLE_ABORTED_BY_CALLBACK) return Status::Cancelled("abandoned");
  if (rc == CURLE_WRITE_ERROR && t.stopped) return statusOf(t);
  if (rc == CURLE_WRITE_ERROR && t.savedFailed)
    return Status::Io("cannot write " + t.o->saveTo.string());
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return Status::Io("the boucle server at " + e.host + ":" + e.port + " did not answer in time");
  if (rc != CURLE_OK) {
    return Status::Io("request to the boucle server at https://" + e.host + ":" + e.port +
                      " failed: " + (*error ? std::string(error) : k.easyStrerror(rc)));
  }
  return statusOf(t);
}

}  // namespace

Result<HttpResult> httpsCall(const Endpoint& e, const std::string& method,
                             const std::string& target, const std::string& body,
                             const CallOptions* options) {
  auto loaded = os::loadCurl();
  if (!loaded.ok()) return loaded.status();
  std::unique_ptr<CURL, void (*)(CURL*)> c((*loaded)->easyInit(), (*loaded)->easyCleanup);
  if (!c) return Status::Internal("curl_easy_init failed");
  Transfer t(**loaded, c.get(), options);
  auto status = perform(e, method, target, body, t);
  if (!status.ok()) return status.status();
  if (t.saved && std::fflush(t.saved.get()) != 0)
    return Status::Io("cannot write " + options->saveTo.string());
  return HttpResult{static_cast<int>(*status), std::move(t.body)};
}

Result<int> httpsStream(const Endpoint& e, const std::string& target,
                        const std::function<bool(std::string_view)>& onData) {
  auto loaded = os::loadCurl();
  if (!loaded.ok()) return loaded.status();
  std::unique_ptr<CURL, void (*)(CURL*)> c((*loaded)->easyInit(), (*loaded)->easyCleanup);
  if (!c) return Status::Internal("curl_easy_init failed");
  Transfer t(**loaded, c.get(), nullptr);
  t.onData = &onData;
  auto status = perform(e, "GET", target, "", t);
  if (!status.ok()) return status.status();
  return static_cast<int>(*status);
}

}  // namespace boucle::cli
