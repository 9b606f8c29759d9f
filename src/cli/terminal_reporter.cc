#include "cli/terminal_reporter.h"

#include <fmt/core.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>

namespace boucle::cli {

using runner::JobState;

namespace {
constexpr size_t kMaxLine = 64 * 1024;  // longer "lines" are shown in pieces
const char* kJobColors[] = {"36", "35", "33", "34", "32", "96", "95", "93"};

const char* stateColor(JobState s) {
  switch (s) {
    case JobState::kPassed:
      return "32";
    case JobState::kFailed:
    case JobState::kTimedOut:
      return "31";
    case JobState::kCancelled:
    case JobState::kSkipped:
      return "33";
    default:
      return "0";
  }
}

// A symbol as well as a colour: state must be readable without colour.
const char* stateMark(JobState s) {
  switch (s) {
    case JobState::kPassed:
      return "ok  ";
    case JobState::kFailed:
      return "FAIL";
    case JobState::kTimedOut:
      return "TIME";
    case JobState::kCancelled:
      return "CANC";
    case JobState::kSkipped:
      return "skip";
    default:
      return "    ";
  }
}
}  // namespace

TerminalReporter::TerminalReporter(FILE* out, const pipeline::Pipeline& p, bool showOutput)
    : out_(out), showOutput_(showOutput), started_(std::chrono::steady_clock::now()) {
  tty_ = ::isatty(::fileno(out)) == 1;
  const char* noColor = std::getenv("NO_COLOR");
  color_ = tty_ && !(noColor && *noColor);
  int i = 0;
  for (const auto& j : p.jobs) {
    width_ = std::max(width_, j.name.size());
    colorIndex_[j.name] = i++ % 8;
    states_[j.name] = JobState::kPending;
  }
}

std::string TerminalReporter::paint(const char* code, std::string_view text) const {
  if (!color_) return std::string(text);
  return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
}

std::string TerminalReporter::prefix(const std::string& job) const {
  std::string name = fmt::format("{:<{}} |", job, width_);
  return paint(kJobColors[colorIndex_.at(job)], name) + " ";
}

void TerminalReporter::clearStatus() {
  if (statusShown_) {
    std::fputs("\r\x1b[K", out_);
    statusShown_ = false;
  }
}

void TerminalReporter::drawStatus() {
  if (!tty_) return;
  clearStatus();  // there is only ever one status line: replace it
  size_t pending = 0, passed = 0, failed = 0;
  std::string running;
  for (const auto& [name, s] : states_) {
    pending += s == JobState::kPending;
    passed += s == JobState::kPassed;
    failed += s == JobState::kFailed || s == JobState::kTimedOut;
    if (s == JobState::kRunning) {
      if (!running.empty()) running += ", ";
      running += name;
    }
  }
  auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
          .count();
  std::string line =
      fmt::format("[{:02}:{:02}] {} pending, {} passed, {} failed, running: {}", secs / 60,
                  secs % 60, pending, passed, failed, running.empty() ? "-" : running);
  // Never wider than the terminal: a wrapped status line could not be erased in place.
  winsize ws{};
  size_t width = ::ioctl(::fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 8 ? ws.ws_col : 80;
  if (line.size() > width - 1) line = line.substr(0, width - 4) + "...";
  std::fputs(paint("7", line).c_str(), out_);
  std::fflush(out_);
  statusShown_ = true;
}

void TerminalReporter::emitLine(const std::string& job, std::string_view line) {
  std::string text = prefix(job);
  text.append(line);
  // The job's colour codes are kept, but never allowed to bleed into the next line.
  if (line.find('\x1b') != std::string_view::npos) text += "\x1b[0m";
  text += '\n';
  std::fwrite(text.data(), 1, text.size(), out_);
}

void TerminalReporter::jobStarted(const std::string& job, int attempt) {
  states_[job] = JobState::kRunning;
  if (!tty_ || !showOutput_) {
    clearStatus();
    std::fputs(fmt::format("==> {} started{}\n", job,
                           attempt > 1 ? fmt::format(" (attempt {})", attempt) : "")
                   .c_str(),
               out_);
  }
  drawStatus();
}

void TerminalReporter::jobOutput(const std::string& job, std::string_view bytes) {
  if (!showOutput_) return;
  clearStatus();
  std::string& buf = partial_[job];
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      buf.append(bytes);
      if (buf.size() >= kMaxLine) {
        emitLine(job, buf);
        buf.clear();
      }
      break;
    }
    if (buf.empty()) {
      emitLine(job, bytes.substr(0, nl));
    } else {
      buf.append(bytes.substr(0, nl));
      emitLine(job, buf);
      buf.clear();
    }
    bytes.remove_prefix(nl + 1);
  }
  drawStatus();
}

void TerminalReporter::jobFinished(const runner::JobResult& r) {
  clearStatus();
  if (auto it = partial_.find(r.name); it != partial_.end() && !it->second.empty()) {
    emitLine(r.name, it->second);
    it->second.clear();
  }
  states_[r.name] = r.state;
  std::string what =
      fmt::format("{} {} in {}", r.name, runner::toString(r.state), formatDuration(r.duration));
  if (!r.reason.empty() && r.state != JobState::kPassed) what += " (" + r.reason + ")";
  std::fputs(fmt::format("==> {}\n", paint(stateColor(r.state), what)).c_str(), out_);
  drawStatus();
}

void TerminalReporter::tick(const runner::Planner&) {
  if (!tty_) return;
  clearStatus();
  drawStatus();
}

void TerminalReporter::summary(const runner::RunResult& r, const std::string& runDir) {
  clearStatus();
  std::fputs("\n", out_);
  for (const auto& j : r.jobs) {
    std::string line = fmt::format("{} {:<{}}  {:>8}", stateMark(j.state), j.name, width_,
                                   j.state == JobState::kSkipped ? "" : formatDuration(j.duration));
    if (j.attempts > 1) line += fmt::format("  ({} attempts)", j.attempts);
    if (!j.artifacts.empty()) line += fmt::format("  {} artifact(s)", j.artifacts.size());
    if (j.tests) {
      line += fmt::format("  tests: {} passed, {} failed, {} skipped", j.tests->passed(),
                          j.tests->failures + j.tests->errors, j.tests->skipped);
    }
    if (!j.reason.empty() && j.state != JobState::kPassed) line += "  — " + j.reason;
    std::fputs((paint(stateColor(j.state), line) + "\n").c_str(), out_);
  }
  for (const auto& j : r.jobs) {
    if (!j.tests || j.tests->failed.empty()) continue;
    std::fputs(fmt::format("\nFailed tests in {}:\n", j.name).c_str(), out_);
    for (const auto& f : j.tests->failed) {
      std::string where = f.location.empty() ? "" : f.location + ": ";
      std::fputs(fmt::format("  {}{}.{}: {}\n", where, f.suite, f.name, f.message).c_str(), out_);
    }
  }
  size_t failed = 0;
  for (const auto& j : r.jobs) {
    failed += j.state == JobState::kFailed || j.state == JobState::kTimedOut;
  }
  std::string verdict = r.interrupted ? "run interrupted"
                        : r.passed()  ? "run passed"
                                      : fmt::format("run failed ({} job(s))", failed);
  std::fputs(
      fmt::format("\n{} in {} — logs in {}/logs\n", paint(r.passed() ? "32;1" : "31;1", verdict),
                  formatDuration(r.duration), runDir)
          .c_str(),
      out_);
  std::fflush(out_);
}

}  // namespace boucle::cli
