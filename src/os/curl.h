#pragma once
// libcurl, loaded at its first use (os/shared_library.h says why): notifications (HTTP, SMTP),
// deploy smoke checks and monitors.

#include <curl/curl.h>

#include <string>

#include "core/status.h"

namespace boucle::os {

struct CurlApi {
  CURLcode (*globalInit)(long);
  CURL* (*easyInit)();
  CURLcode (*easySetopt)(CURL*, CURLoption, ...);
  CURLcode (*easyPerform)(CURL*);
  void (*easyCleanup)(CURL*);
  CURLcode (*easyGetinfo)(CURL*, CURLINFO, ...);
  const char* (*easyStrerror)(CURLcode);
  curl_slist* (*slistAppend)(curl_slist*, const char*);
  void (*slistFreeAll)(curl_slist*);
  // The multi interface: many transfers driven by one thread (monitors).
  CURLM* (*multiInit)();
  CURLMcode (*multiCleanup)(CURLM*);
  CURLMcode (*multiAddHandle)(CURLM*, CURL*);
  CURLMcode (*multiRemoveHandle)(CURLM*, CURL*);
  CURLMcode (*multiPerform)(CURLM*, int*);
  CURLMcode (*multiPoll)(CURLM*, curl_waitfd*, unsigned, int, int*);
  CURLMcode (*multiWakeup)(CURLM*);
  CURLMsg* (*multiInfoRead)(CURLM*, int*);
  CURLMcode (*multiSetopt)(CURLM*, CURLMoption, ...);
  char* (*easyEscape)(CURL*, const char*, int);
  void (*free)(void*);
};

Result<const CurlApi*> loadCurl();

struct HttpAnswer {
  long status = 0;
  std::string body;  // at most `maxBody` bytes of it
  double seconds = 0;
};
// GET `url` (http or https), following no redirect, within `timeoutMs`.
Result<HttpAnswer> httpGet(const std::string& url, long timeoutMs, size_t maxBody = 1 << 20);

}  // namespace boucle::os
