#pragma once
// Black-box helpers: a throwaway git repository and the real boucle binary run against it.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace boucle::testing {

struct Output {
  int exitCode = -1;
  std::string out;
  std::string err;
  std::string all() const { return out + err; }
};

class TempRepo {
 public:
  TempRepo();
  ~TempRepo();
  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& data() const { return data_; }
  const std::filesystem::path& scratch() const { return scratch_; }  // outside the repo
  void write(const std::string& rel, const std::string& content);
  void git(const std::vector<std::string>& args);
  std::string commit(const std::string& message, const std::string& author = "Dev");  // sha
  // Runs `boucle ARGS --data DATA` (for run) in the repository.
  Output boucle(std::vector<std::string> args, const std::vector<std::string>& extraEnv = {});
  // Starts `boucle run` in the background; stdout+stderr go to `log`.
  pid_t startBoucle(std::vector<std::string> args, const std::filesystem::path& log);
  std::filesystem::path runDir(int id) const;
  std::string readLog(int run, const std::string& job) const;

 private:
  std::filesystem::path root_, dir_, data_, scratch_;
};

// Any program, to completion (stdout and stderr kept apart), or in the background (both to `log`).
Output runCommand(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                  const std::vector<std::string>& extraEnv = {});
pid_t startProcess(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                   const std::filesystem::path& log, const std::vector<std::string>& extraEnv = {});

std::string readFile(const std::filesystem::path& p);
// Hex HMAC-SHA256 of `data` under `key`, as GitHub and Gitea sign their webhooks.
std::string hmacHex(const std::string& key, const std::string& data);
bool processAlive(pid_t pid);
// Live processes with `arg` as one of their arguments, found through /proc: a sandboxed job's
// processes have pids of their own namespace, so a test finds them by a unique argument
// ("sleep 301.25") instead of by a pid the job reports.
std::vector<pid_t> processesWithArgument(const std::string& arg);
// Polls `cond` every 20 ms until it holds or `timeout` passes; returns whether it held.
bool waitFor(const std::function<bool()>& cond,
             std::chrono::milliseconds timeout = std::chrono::seconds(20));
int waitExit(pid_t pid);
// A TCP port on 127.0.0.1 that nothing listens on (bound, read, released).
int freePort();
// A network slot (1-200) for hosts in network namespaces that no other test process holds,
// searched from `first`; it stays this process's until `*lockFd` is closed. 0 when none is free.
int takeNetworkSlot(int first, int* lockFd);

}  // namespace boucle::testing
