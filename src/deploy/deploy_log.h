#pragma once
// A deploy's log: what boucle does ("boucle: …" lines) and what steps print, secrets masked
// before anything is written. Hosts of a rolling deploy write to it at the same time, each
// through its own HostLog so that their lines stay whole and say which host they come from.

#include <sys/types.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "runner/masker.h"

namespace boucle::deploy {

// Where output goes: the deploy's log, or one host's lines in it.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void say(const std::string& line) = 0;    // "boucle: …" lines
  virtual void output(std::string_view bytes) = 0;  // a step's output
  virtual void stepStarted(pid_t pid) = 0;
  virtual void stepEnded(pid_t pid) = 0;
};

class DeployLog : public LogSink {
 public:
  // `bellKey`: rung (core/bell.h) whenever the log grows, so that followers read it then.
  DeployLog(const std::filesystem::path& file, const std::vector<std::string>& secrets,
            std::string bellKey = "");
  ~DeployLog() override;
  void say(const std::string& line) override;
  void output(std::string_view bytes) override;
  void flush();
  // `text` with this deploy's secrets masked (for reasons and results stored elsewhere).
  std::string mask(std::string_view text) const { return masker_.mask(text); }
  // While steps run, their processes (group leaders) and start times are kept beside the log,
  // so that a server killed mid-step can end the steps' processes at its restart.
  void stepStarted(pid_t pid) override;
  void stepEnded(pid_t pid) override;

 private:
  void writeSteps();  // with mu_ held

  std::mutex mu_;
  std::filesystem::path stepFile_;
  std::vector<std::string> steps_;  // "PID STARTTIME"
  int fd_ = -1;
  std::vector<std::string> secrets_;
  runner::Masker masker_;
  std::string bellKey_;
};

// One host's view of the deploy log: whole lines, each starting with "[host] ".
class HostLog : public LogSink {
 public:
  // Appended rather than "[" + host: GCC 12 warns (-Wrestrict) wrongly on that insert.
  HostLog(DeployLog& log, const std::string& host) : log_(log) {
    prefix_.append("[").append(host).append("] ");
  }
  ~HostLog() override;
  void say(const std::string& line) override;
  void output(std::string_view bytes) override;
  void stepStarted(pid_t pid) override { log_.stepStarted(pid); }
  void stepEnded(pid_t pid) override { log_.stepEnded(pid); }

 private:
  DeployLog& log_;
  std::string prefix_;
  std::string pending_;  // a line not ended yet
};

// After a crash: ends the processes of the steps that were running for the deploy whose log is
// `file` (each only if it still is the process recorded, not a reused pid). Returns how many.
int endOrphanedSteps(const std::filesystem::path& file);

}  // namespace boucle::deploy
