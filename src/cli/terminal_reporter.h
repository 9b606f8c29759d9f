#pragma once
// Reporting a run on a terminal: each job's output line by line, prefixed with the job's name,
// the job's own colours kept; on a TTY a live status line at the bottom (pending / running /
// passed / failed, elapsed time); elsewhere plain start/finish lines.

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "runner/engine.h"

namespace boucle::cli {

class TerminalReporter : public runner::RunObserver {
 public:
  TerminalReporter(FILE* out, const pipeline::Pipeline& p, bool showOutput);

  void jobStarted(const std::string& job, int attempt) override;
  void jobOutput(const std::string& job, std::string_view bytes) override;
  void jobFinished(const runner::JobResult& r) override;
  void tick(const runner::Planner& planner) override;

  // Final report: one line per job, test failures with their location, where the logs are.
  void summary(const runner::RunResult& r, const std::string& runDir);

 private:
  void emitLine(const std::string& job, std::string_view line);
  void clearStatus();
  void drawStatus();
  std::string prefix(const std::string& job) const;
  std::string paint(const char* code, std::string_view text) const;

  FILE* out_;
  bool tty_;
  bool color_;
  bool showOutput_;
  size_t width_ = 0;
  std::map<std::string, std::string> partial_;  // unfinished last line per job
  std::map<std::string, int> colorIndex_;
  std::map<std::string, runner::JobState> states_;
  std::chrono::steady_clock::time_point started_;
  bool statusShown_ = false;
};

}  // namespace boucle::cli
