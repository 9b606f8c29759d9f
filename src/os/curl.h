#pragma once
// libcurl, loaded at its first use (os/shared_library.h says why): notifications (HTTP, SMTP)
// and deploy smoke checks.

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
