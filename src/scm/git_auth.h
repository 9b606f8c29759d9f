#pragma once
// How git reaches a private repository: a token sent as HTTP Basic authentication (through
// git's own http.extraHeader, set in the environment so it never shows in a command line), or
// an ssh private key written to a 0600 file for the length of one git command.

#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"

namespace boucle::scm {

struct GitCredential {
  std::string kind;      // "", "token" or "ssh-key"
  std::string username;  // with a token
  std::string secret;    // the token, or the private key (OpenSSH format)
};

// "" when fine, else what is wrong with it (for the API's 400).
std::string checkCredential(const GitCredential& c);

// Refuses URLs that carry a password ("https://user:pass@host/..."): it would be stored and
// shown in the clear. Credentials go in GitCredential instead.
std::string checkUrl(const std::string& url);

// "Authorization: Basic …" for a token credential (user "boucle" when none is given).
std::string authorizationHeader(const GitCredential& c);

// The environment one git command needs; owns the key file, removed when this goes away.
class GitAuth {
 public:
  // `stateDir`: where the key file (briefly) and ssh's known_hosts live.
  static Result<GitAuth> prepare(const GitCredential& c, const std::filesystem::path& stateDir);
  GitAuth() = default;
  GitAuth(GitAuth&& o) noexcept;
  GitAuth& operator=(GitAuth&& o) noexcept;
  ~GitAuth();

  const std::vector<std::string>& env() const { return env_; }
  // `text` (git's own messages) with the secret replaced by "***".
  std::string redact(std::string text) const;
  // Key files a server killed mid-fetch left behind in `stateDir`: removed at start-up, so no
  // private key stays on disk longer than one git command of a running server.
  static int removeLeftovers(const std::filesystem::path& stateDir);

 private:
  std::vector<std::string> env_;
  std::filesystem::path keyFile_;
  std::string secret_;
};

}  // namespace boucle::scm
