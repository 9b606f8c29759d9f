#include "scm/git_auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/tokens.h"
#include "core/encoding.h"
#include "os/files.h"

namespace boucle::scm {
namespace fs = std::filesystem;

std::string checkCredential(const GitCredential& c) {
  if (c.kind.empty()) return "";
  if (c.kind != "token" && c.kind != "ssh-key")
    return "credential kind must be token or ssh-key, not '" + c.kind + "'";
  if (c.secret.empty()) return "the credential's secret is empty";
  if (c.kind == "token") {
    for (unsigned char ch : c.secret + c.username) {
      if (ch < 0x20 || ch == 0x7f) return "a token and its user name are one line of text";
    }
    if (c.username.find(':') != std::string::npos) return "a user name cannot contain ':'";
  }
  if (c.kind == "ssh-key" && c.secret.find("PRIVATE KEY-----") == std::string::npos)
    return "the ssh key is not a private key file (-----BEGIN ... PRIVATE KEY-----)";
  return "";
}

std::string checkUrl(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  auto hostStart = scheme + 3;
  auto at = url.find('@', hostStart);
  auto slash = url.find('/', hostStart);
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return "";
  if (url.substr(hostStart, at - hostStart).find(':') != std::string::npos) {
    return "the URL carries a password: give it as the project's credential (--token-file) "
           "instead, which is stored encrypted and never shown";
  }
  return "";
}

std::string authorizationHeader(const GitCredential& c) {
  std::string user = c.username.empty() ? "boucle" : c.username;
  return "Authorization: Basic " + base64Of(user + ":" + c.secret);
}

Result<GitAuth> GitAuth::prepare(const GitCredential& c, const fs::path& stateDir) {
  GitAuth a;
  // ssh never asks (BatchMode), gives up on a host that does not answer (ConnectTimeout, keep-
  // alives: a stalled remote must not hold a worker and the mirror's lock), and trusts a host
  // on first use, remembering its key in boucle's
  // own known_hosts so a changed key is refused from then on.
  std::string ssh =
      "ssh -o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=15 "
      "-o ServerAliveCountMax=4 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=" +
      shellQuote((stateDir / "known_hosts").string());
  if (c.kind == "token") {
    a.secret_ = c.secret;
    a.env_ = {"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader",
              "GIT_CONFIG_VALUE_0=" + authorizationHeader(c)};
  } else if (c.kind == "ssh-key") {
    a.secret_ = c.secret;
    std::error_code ec;
    fs::create_directories(stateDir / "keys", ec);
    ::chmod((stateDir / "keys").c_str(), 0700);
    a.keyFile_ = stateDir / "keys" / ("key-" + auth::randomHex(8));
    std::string key = c.secret;
    if (key.back() != '\n') key += '\n';  // ssh refuses a key file without its final newline
    if (auto st = os::writeFileAtomic(a.keyFile_, key, 0600); !st.ok()) return st;
    ssh += " -o IdentitiesOnly=yes -i " + shellQuote(a.keyFile_.string());
  }
  std::error_code ec;
  fs::create_directories(stateDir, ec);
  a.env_.push_back("GIT_SSH_COMMAND=" + ssh);
  return a;
}

GitAuth::GitAuth(GitAuth&& o) noexcept
    : env_(std::move(o.env_)), keyFile_(std::move(o.keyFile_)), secret_(std::move(o.secret_)) {
  o.keyFile_.clear();
}

GitAuth& GitAuth::operator=(GitAuth&& o) noexcept {
  if (this != &o) {
    std::error_code ec;
    if (!keyFile_.empty()) fs::remove(keyFile_, ec);
    env_ = std::move(o.env_);
    keyFile_ = std::move(o.keyFile_);
    secret_ = std::move(o.secret_);
    o.keyFile_.clear();
  }
  return *this;
}

GitAuth::~GitAuth() {
  std::error_code ec;
  if (!keyFile_.empty()) fs::remove(keyFile_, ec);
}

std::string GitAuth::redact(std::string text) const {
  if (secret_.size() < 4) return text;
  for (size_t pos; (pos = text.find(secret_)) != std::string::npos;)
    text.replace(pos, secret_.size(), "***");
  return text;
}

int GitAuth::removeLeftovers(const fs::path& stateDir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(stateDir / "keys", ec)) {
    if (e.path().filename().string().starts_with("key-") && fs::remove(e.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace boucle::scm
