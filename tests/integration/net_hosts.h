#pragma once
// Machines as far as the network goes: network namespaces the test creates (net_hosts.sh), each
// with its own address on a bridge where the server listens, whose link can be cut and mended.
// A program started on a host reaches the server through that link only. Torn down with the
// object.

#include <sys/types.h>

#include <string>
#include <vector>

#include "harness.h"

namespace boucle::testing {

class NetHosts {
 public:
  explicit NetHosts(int count);
  ~NetHosts();
  NetHosts(const NetHosts&) = delete;
  NetHosts& operator=(const NetHosts&) = delete;

  bool up() const { return up_; }
  const std::string& startLog() const { return startLog_; }
  std::string bridge() const;  // the default namespace's address on the hosts' network
  std::string address(int i) const;
  // Starts `argv` on host i (1-based), its output to `log`.
  pid_t start(int i, const std::vector<std::string>& argv, const std::filesystem::path& log,
              const std::vector<std::string>& extraEnv = {}) const;
  void cut(int i);   // host i's link goes down: its connections hang, nothing arrives
  void mend(int i);  // and comes back

 private:
  int count_;
  int slot_ = 0;
  int lockFd_ = -1;
  bool up_ = false;
  std::string startLog_;
};

}  // namespace boucle::testing
