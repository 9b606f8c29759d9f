#include "runner/sandbox.h"

#include <unistd.h>

#include "runner/process.h"

namespace boucle::runner {

Result<std::string> findBubblewrap() {
  auto found = findOnPath("bwrap");
  if (found.ok()) return found;
  if (::access("/usr/bin/bwrap", X_OK) == 0) return std::string("/usr/bin/bwrap");
  return Status::NotFound("isolation: sandbox needs bubblewrap (apt-get install bubblewrap)");
}

std::vector<std::string> sandboxArgv(const std::string& bwrap, const SandboxSpec& spec) {
  std::vector<std::string> a{bwrap, "--unshare-all", "--die-with-parent", "--new-session"};
  if (spec.network) a.push_back("--share-net");
  if (::geteuid() == 0) {
    // Root on the host must not be root in the sandbox: map to an ordinary uid, drop all caps.
    a.insert(a.end(), {"--unshare-user", "--uid", "1000", "--gid", "1000", "--cap-drop", "ALL"});
  }
  a.insert(a.end(), {"--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"});
  // Debian's merged /usr: the top-level directories are symlinks into /usr.
  for (const char* d : {"bin", "lib", "lib32", "lib64", "sbin"}) {
    std::string top = std::string("/") + d;
    char target[256];
    ssize_t n = ::readlink(top.c_str(), target, sizeof target - 1);
    if (n > 0) a.insert(a.end(), {"--symlink", std::string(target, static_cast<size_t>(n)), top});
  }
  if (::access("/opt", F_OK) == 0) a.insert(a.end(), {"--ro-bind", "/opt", "/opt"});
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/home",
                     "--dir", kSandboxHome, "--bind", spec.workspace.string(),
                     spec.workspace.string(), "--chdir", spec.workspace.string(), "--clearenv"});
  for (const auto& kv : spec.env) {
    auto eq = kv.find('=');
    a.insert(a.end(), {"--setenv", kv.substr(0, eq), kv.substr(eq + 1)});
  }
  a.push_back("--");
  a.insert(a.end(), spec.command.begin(), spec.command.end());
  return a;
}

}  // namespace boucle::runner
