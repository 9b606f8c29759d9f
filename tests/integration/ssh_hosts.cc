#include "ssh_hosts.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace boucle::testing {
namespace fs = std::filesystem;

SshHosts::SshHosts(int count) : count_(count) {
  // A slot nobody else holds: tests running at the same time get their own addresses.
  slot_ = takeNetworkSlot(1 + ::getpid() % 200, &lockFd_);
  if (!slot_) {
    startLog_ = "no free network slot";
    return;
  }
  dir_ = fs::temp_directory_path() / ("boucle-hosts-" + std::to_string(slot_));
  Output r = runCommand({"/bin/bash", SSH_HOSTS_SH, "up", dir_.string(), std::to_string(slot_),
                         std::to_string(count_)},
                        "/");
  startLog_ = r.all();
  up_ = r.exitCode == 0;
}

SshHosts::~SshHosts() {
  if (slot_) {
    runCommand({"/bin/bash", SSH_HOSTS_SH, "down", dir_.string(), std::to_string(slot_),
                std::to_string(count_)},
               "/");
  }
  if (lockFd_ >= 0) ::close(lockFd_);
}

std::string SshHosts::address(int i) const {
  return "10.214." + std::to_string(slot_) + ".1" + std::to_string(i);
}

std::string SshHosts::hostname(int i) const {
  return "bcl" + std::to_string(slot_) + "h" + std::to_string(i);
}

std::string SshHosts::all() const {
  std::string out;
  for (int i = 1; i <= count_; ++i) out += (i > 1 ? " " : "") + address(i);
  return out;
}

Output SshHosts::ssh(int i, const std::string& command) const {
  return runCommand({"/usr/bin/ssh", "-F", sshConfig().string(), address(i), command}, "/");
}

void SshHosts::stop(int i) {
  runCommand(
      {"/bin/bash", SSH_HOSTS_SH, "stop", dir_.string(), std::to_string(slot_), std::to_string(i)},
      "/");
}

}  // namespace boucle::testing
