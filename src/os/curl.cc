#include "os/curl.h"

#include <memory>
#include <mutex>

#include "os/shared_library.h"

namespace boucle::os {

Result<const CurlApi*> loadCurl() {
  static std::once_flag once;
  static CurlApi api{};
  static std::string error;
  std::call_once(once, [] {
    os::SharedLibrary lib("libcurl.so.4", "libcurl4");
    lib.bind(api.globalInit, "curl_global_init");
    lib.bind(api.easyInit, "curl_easy_init");
    lib.bind(api.easySetopt, "curl_easy_setopt");
    lib.bind(api.easyPerform, "curl_easy_perform");
    lib.bind(api.easyCleanup, "curl_easy_cleanup");
    lib.bind(api.easyGetinfo, "curl_easy_getinfo");
    lib.bind(api.easyStrerror, "curl_easy_strerror");
    lib.bind(api.slistAppend, "curl_slist_append");
    lib.bind(api.slistFreeAll, "curl_slist_free_all");
    lib.bind(api.multiInit, "curl_multi_init");
    lib.bind(api.multiCleanup, "curl_multi_cleanup");
    lib.bind(api.multiAddHandle, "curl_multi_add_handle");
    lib.bind(api.multiRemoveHandle, "curl_multi_remove_handle");
    lib.bind(api.multiPerform, "curl_multi_perform");
    lib.bind(api.multiPoll, "curl_multi_poll");
    lib.bind(api.multiWakeup, "curl_multi_wakeup");
    lib.bind(api.multiInfoRead, "curl_multi_info_read");
    lib.bind(api.multiSetopt, "curl_multi_setopt");
    lib.bind(api.easyEscape, "curl_easy_escape");
    lib.bind(api.free, "curl_free");
    error = lib.error();
    // call_once: this runs before any other curl call, whichever thread comes first.
    if (error.empty() && api.globalInit(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      error = "curl_global_init failed";
  });
  if (!error.empty()) return Status::Internal(error);
  return &api;
}

namespace {

struct Sink {
  std::string* body;
  size_t max;
};

size_t keep(char* p, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  size_t len = size * n;
  if (s->body->size() < s->max) s->body->append(p, std::min(len, s->max - s->body->size()));
  return len;
}

}  // namespace

Result<HttpAnswer> httpGet(const std::string& url, long timeoutMs, size_t maxBody) {
  auto loaded = loadCurl();
  if (!loaded.ok()) return loaded.status();
  const CurlApi& k = **loaded;
  std::unique_ptr<CURL, void (*)(CURL*)> c(k.easyInit(), k.easyCleanup);
  if (!c) return Status::Internal("curl_easy_init failed");
  HttpAnswer answer;
  Sink sink{&answer.body, maxBody};
  k.easySetopt(c.get(), CURLOPT_URL, url.c_str());
  k.easySetopt(c.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  k.easySetopt(c.get(), CURLOPT_TIMEOUT_MS, timeoutMs);
  k.easySetopt(c.get(), CURLOPT_NOSIGNAL, 1L);
  k.easySetopt(c.get(), CURLOPT_WRITEFUNCTION, keep);
  k.easySetopt(c.get(), CURLOPT_WRITEDATA, &sink);
  CURLcode rc = k.easyPerform(c.get());
  if (rc != CURLE_OK) return Status::Io(k.easyStrerror(rc));
  k.easyGetinfo(c.get(), CURLINFO_RESPONSE_CODE, &answer.status);
  k.easyGetinfo(c.get(), CURLINFO_TOTAL_TIME, &answer.seconds);
  return answer;
}

}  // namespace boucle::os
