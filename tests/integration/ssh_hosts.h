#pragma once
// Real deploy target hosts: sshd processes in network namespaces the test creates (see
// ssh_hosts.sh), each with its own address, hostname and /srv, reachable as root through a
// generated key and ssh config. Torn down with the object.

#include <filesystem>
#include <string>

#include "harness.h"

namespace boucle::testing {

class SshHosts {
 public:
  explicit SshHosts(int count);
  ~SshHosts();
  SshHosts(const SshHosts&) = delete;
  SshHosts& operator=(const SshHosts&) = delete;

  bool up() const { return up_; }
  const std::string& startLog() const { return startLog_; }
  int count() const { return count_; }
  std::filesystem::path sshConfig() const { return dir_ / "ssh_config"; }
  std::string address(int i) const;   // host i, 1-based
  std::string hostname(int i) const;  // what `hostname` says there
  std::string all() const;            // every address, space-separated
  Output ssh(int i, const std::string& command) const;
  void stop(int i);  // ends host i's sshd and what runs there: it becomes unreachable

 private:
  int count_;
  int slot_ = 0;
  int lockFd_ = -1;
  bool up_ = false;
  std::string startLog_;
  std::filesystem::path dir_;
};

}  // namespace boucle::testing
