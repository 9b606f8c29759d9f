#include "net_hosts.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace boucle::testing {

NetHosts::NetHosts(int count) : count_(count) {
  // The slots are the ssh hosts' too: one slot number per test at a time.
  slot_ = takeNetworkSlot(1 + (::getpid() + 100) % 200, &lockFd_);
  if (!slot_) {
    startLog_ = "no free network slot";
    return;
  }
  Output r = runCommand(
      {"/bin/bash", NET_HOSTS_SH, "up", std::to_string(slot_), std::to_string(count_)}, "/");
  startLog_ = r.all();
  up_ = r.exitCode == 0;
}

NetHosts::~NetHosts() {
  if (slot_) {
    runCommand({"/bin/bash", NET_HOSTS_SH, "down", std::to_string(slot_), std::to_string(count_)},
               "/");
  }
  if (lockFd_ >= 0) ::close(lockFd_);
}

std::string NetHosts::bridge() const {
  return "10.215." + std::to_string(slot_) + ".1";
}

std::string NetHosts::address(int i) const {
  return "10.215." + std::to_string(slot_) + ".1" + std::to_string(i);
}

pid_t NetHosts::start(int i, const std::vector<std::string>& argv, const std::filesystem::path& log,
                      const std::vector<std::string>& extraEnv) const {
  std::vector<std::string> all{"/usr/sbin/ip", "netns", "exec",
                               "bcn" + std::to_string(slot_) + "h" + std::to_string(i)};
  all.insert(all.end(), argv.begin(), argv.end());
  return startProcess(all, "/", log, extraEnv);
}

void NetHosts::cut(int i) {
  runCommand({"/bin/bash", NET_HOSTS_SH, "cut", std::to_string(slot_), std::to_string(i)}, "/");
}

void NetHosts::mend(int i) {
  runCommand({"/bin/bash", NET_HOSTS_SH, "mend", std::to_string(slot_), std::to_string(i)}, "/");
}

}  // namespace boucle::testing
