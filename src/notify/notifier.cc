#include "notify/notifier.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "auth/secret_box.h"
#include "core/clock.h"
#include "core/log.h"
#include "notify/forge_status.h"
#include "os/curl.h"

namespace boucle::notify {

namespace {

size_t discard(char*, size_t size, size_t n, void*) {
  return size * n;
}

struct Upload {
  const std::string* data;
  size_t at = 0;
};

size_t readUpload(char* buf, size_t size, size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  size_t len = std::min(size * n, u->data->size() - u->at);
  std::copy_n(u->data->data() + u->at, len, buf);
  u->at += len;
  return len;
}

using os::CurlApi;
using os::loadCurl;

class CurlSender : public Sender {
 public:
  explicit CurlSender(MailSettings mail) : mail_(std::move(mail)) {}

  Status post(const std::string& url, const std::string& json,
              const std::vector<std::string>& extra) override {
    auto loaded = loadCurl();
    if (!loaded.ok()) return loaded.status();
    const CurlApi& k = **loaded;
    std::unique_ptr<CURL, void (*)(CURL*)> c(k.easyInit(), k.easyCleanup);
    if (!c) return Status::Internal("curl_easy_init failed");
    curl_slist* headers = k.slistAppend(nullptr, "Content-Type: application/json");
    // GitHub's API refuses requests without a User-Agent.
    headers = k.slistAppend(headers, "User-Agent: boucle");
    for (const auto& h : extra) headers = k.slistAppend(headers, h.c_str());
    k.easySetopt(c.get(), CURLOPT_URL, url.c_str());
    k.easySetopt(c.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    k.easySetopt(c.get(), CURLOPT_POSTFIELDS, json.c_str());
    k.easySetopt(c.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(json.size()));
    k.easySetopt(c.get(), CURLOPT_HTTPHEADER, headers);
    k.easySetopt(c.get(), CURLOPT_TIMEOUT, 10L);
    k.easySetopt(c.get(), CURLOPT_NOSIGNAL, 1L);
    k.easySetopt(c.get(), CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = k.easyPerform(c.get());
    k.slistFreeAll(headers);
    if (rc != CURLE_OK) return Status::Io(k.easyStrerror(rc));
    long code = 0;
    k.easyGetinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code >= 300) return Status::Io("HTTP " + std::to_string(code));
    return Status::Ok();
  }

  Status mail(const std::string& to, const std::string& message) override {
    auto loaded = loadCurl();
    if (!loaded.ok()) return loaded.status();
    const CurlApi& k = **loaded;
    std::unique_ptr<CURL, void (*)(CURL*)> c(k.easyInit(), k.easyCleanup);
    if (!c) return Status::Internal("curl_easy_init failed");
    curl_slist* rcpt = k.slistAppend(nullptr, ("<" + to + ">").c_str());
    Upload upload{&message};
    std::string from = "<" + mail_.from + ">";
    k.easySetopt(c.get(), CURLOPT_URL, mail_.smtpUrl.c_str());
    k.easySetopt(c.get(), CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    k.easySetopt(c.get(), CURLOPT_MAIL_FROM, from.c_str());
    k.easySetopt(c.get(), CURLOPT_MAIL_RCPT, rcpt);
    k.easySetopt(c.get(), CURLOPT_READFUNCTION, readUpload);
    k.easySetopt(c.get(), CURLOPT_READDATA, &upload);
    k.easySetopt(c.get(), CURLOPT_UPLOAD, 1L);
    k.easySetopt(c.get(), CURLOPT_TIMEOUT, 20L);
    k.easySetopt(c.get(), CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = k.easyPerform(c.get());
    k.slistFreeAll(rcpt);
    if (rc != CURLE_OK) return Status::Io(k.easyStrerror(rc));
    return Status::Ok();
  }

 private:
  MailSettings mail_;
};

}  // namespace

std::unique_ptr<Sender> makeCurlSender(const MailSettings& mail) {
  return std::make_unique<CurlSender>(mail);
}

Notifier::Notifier(store::Store& store, std::unique_ptr<Sender> sender)
    : store_(store), sender_(std::move(sender)) {}

void Notifier::start() {
  thread_ = std::thread([this] { loop(); });
}

void Notifier::wake() {
  wakeup_.wake();
}

void Notifier::stop() {
  wakeup_.stop();
  if (thread_.joinable()) thread_.join();
}

// A commit status, with the project's forge token (opened only now: the queue holds no secret).
// A status a newer one of the same run and commit supersedes is not sent: retried late, it
// would put an old state over the new one.
Status Notifier::setStatus(const store::Delivery& d) {
  auto all = store_.listDeliveries(d.runId);
  if (!all.ok()) return all.status();
  for (const auto& other : *all) {
    if (other.id > d.id && other.channel == "status" && other.target == d.target)
      return Status::Cancelled("superseded by a newer status");
  }
  auto run = store_.getRun(d.runId);
  if (!run.ok()) return run.status();
  auto project = store_.getProject(run->project);
  if (!project.ok()) return project.status();
  // The token goes only to the forge the project names now: a status queued for another
  // (its settings changed since) is not sent.
  auto target = forgeTarget(*project);
  if (!target.ok()) return target.status();
  if (!*target || !d.target.starts_with((*target)->api + "/"))
    return Status::Cancelled("the project's forge changed since this status was queued");
  // The git credential's token serves only the forge its URL names (the API told from it).
  std::string sealed = !project->forgeTokenSealed.empty() ? project->forgeTokenSealed
                       : project->credentialKind == "token" && project->forgeApi.empty()
                           ? project->credentialSealed
                           : "";
  if (sealed.empty())
    return Status::Invalid("no token for the forge (boucle project set " + project->name +
                           " --forge-token-file FILE)");
  if (!secrets_) return Status::Internal("no key to open the forge token");
  auto token = secrets_->unseal(sealed);
  if (!token.ok()) return token.status();
  auto headers = forgeHeaders(project->forge, *token);
  Status st = sender_->post(d.target, d.payload, headers);
  for (auto& h : headers) std::fill(h.begin(), h.end(), '\0');
  std::fill(token->begin(), token->end(), '\0');
  return st;
}

void Notifier::deliver(store::Delivery d) {
  Status st = d.channel == "email"    ? sender_->mail(d.target, d.payload)
              : d.channel == "status" ? setStatus(d)
                                      : sender_->post(d.target, d.payload);
  if (st.code() == Code::kCancelled) {
    d.state = st.message().starts_with("superseded") ? "superseded" : "failed";
    d.lastError = st.message();
    if (auto s = store_.updateDelivery(d); !s.ok()) logError("notify: " + s.message());
    return;
  }
  ++d.attempts;
  if (st.ok()) {
    d.state = "sent";
    d.sentAt = nowMs();
    d.lastError.clear();
  } else {
    d.lastError = st.message();
    if (d.attempts >= kMaxAttempts) {
      d.state = "failed";
      logError("notify: gave up on " + d.channel + " delivery " + std::to_string(d.id) + " after " +
               std::to_string(d.attempts) + " attempts: " + st.message());
    } else {
      int64_t backoff = std::min<int64_t>(300'000, 1000LL << (d.attempts - 1));
      d.nextAttemptAt = nowMs() + backoff;
    }
  }
  if (auto s = store_.updateDelivery(d); !s.ok()) logError("notify: " + s.message());
}

void Notifier::loop() {
  while (wakeup_.wait(std::chrono::milliseconds(500))) {
    if (leads_ && !leads_()) continue;
    auto due = store_.dueDeliveries(nowMs(), 20);
    if (!due.ok()) {
      logError("notify: " + due.status().message());
      continue;
    }
    for (auto& d : *due) deliver(std::move(d));
  }
}

}  // namespace boucle::notify
