#pragma once
// Sends the queued deliveries on its own thread, so a slow or failing channel never holds up
// a build. A failed attempt is retried with exponential backoff (1 s, 2 s, 4 s … up to 5 min)
// and given up after kMaxAttempts; every attempt's outcome is recorded in the store.

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "core/wakeup.h"
#include "store/store.h"

namespace boucle::auth {
class SecretBox;
}

namespace boucle::notify {

class Sender {
 public:
  virtual ~Sender() = default;
  // `headers` ("Name: value") go with the request, never into a message or the log.
  virtual Status post(const std::string& url, const std::string& json,
                      const std::vector<std::string>& headers = {}) = 0;
  virtual Status mail(const std::string& to, const std::string& message) = 0;
};

struct MailSettings {
  std::string smtpUrl = "smtp://127.0.0.1:25";
  std::string from = "boucle@localhost";
};

// HTTP(S) with libcurl (10 s timeout); SMTP through `mail.smtpUrl`.
std::unique_ptr<Sender> makeCurlSender(const MailSettings& mail);

inline constexpr int kMaxAttempts = 8;

class Notifier {
 public:
  Notifier(store::Store& store, std::unique_ptr<Sender> sender);
  ~Notifier() { stop(); }
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Whether this server leads those sharing its database: only the leader sends, so a
  // notification goes once. Before start().
  void setLeads(std::function<bool()> leads) { leads_ = std::move(leads); }
  // Opens the tokens commit statuses are set with. Before start().
  void setSecrets(const auth::SecretBox* secrets) { secrets_ = secrets; }
  void start();
  void wake();
  void stop();

 private:
  void loop();
  void deliver(store::Delivery d);
  Status setStatus(const store::Delivery& d);

  store::Store& store_;
  std::unique_ptr<Sender> sender_;
  std::thread thread_;
  std::function<bool()> leads_;
  const auth::SecretBox* secrets_ = nullptr;
  Wakeup wakeup_;
};

}  // namespace boucle::notify
