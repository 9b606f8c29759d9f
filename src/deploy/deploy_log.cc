#include "deploy/deploy_log.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "core/bell.h"
#include "core/encoding.h"
#include "os/files.h"

namespace boucle::deploy {
namespace fs = std::filesystem;

namespace {

// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. With the
// pid it names one process for good (pids are reused, start times with them are not).
std::string startTimeOf(pid_t pid) {
  auto stat = os::readFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return "";
  auto close = stat->rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return "";
  std::string rest = stat->substr(close + 2);
  size_t field = 3;  // rest starts at field 3 (state)
  size_t at = 0;
  while (field < 22 && at != std::string::npos) {
    at = rest.find(' ', at);
    if (at != std::string::npos) ++at;
    ++field;
  }
  if (at == std::string::npos) return "";
  return rest.substr(at, rest.find(' ', at) - at);
}

}  // namespace

int endOrphanedSteps(const fs::path& file) {
  fs::path marker = file;
  marker += ".step";
  auto text = os::readFile(marker);
  std::error_code ec;
  fs::remove(marker, ec);
  if (!text.ok()) return 0;
  int ended = 0;
  for (const auto& line : split(*text, '\n')) {
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::atol(line.substr(0, space).c_str()));
    if (pid <= 1 || startTimeOf(pid) != line.substr(space + 1)) continue;
    ::kill(-pid, SIGKILL);  // the step's whole process group
    ++ended;
  }
  return ended;
}

DeployLog::DeployLog(const fs::path& file, const std::vector<std::string>& secrets,
                     std::string bellKey)
    : secrets_(secrets), masker_(secrets), bellKey_(std::move(bellKey)) {
  stepFile_ = file;
  stepFile_ += ".step";
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

DeployLog::~DeployLog() {
  flush();
  if (fd_ >= 0) ::close(fd_);
}

void DeployLog::say(const std::string& line) {
  output("boucle: " + line + "\n");
}

void DeployLog::output(std::string_view bytes) {
  std::lock_guard lock(mu_);
  std::string out;
  masker_.feed(bytes, out);
  if (fd_ >= 0 && !out.empty()) {
    (void)os::writeAll(fd_, out);
    if (!bellKey_.empty()) logBell().ring(bellKey_);
  }
}

void DeployLog::writeSteps() {
  std::error_code ec;
  if (steps_.empty()) {
    fs::remove(stepFile_, ec);
    return;
  }
  std::string text;
  for (const auto& s : steps_) text += s + "\n";
  (void)os::replaceFile(stepFile_, text);  // only a killed server reads it: no fsync
}

void DeployLog::stepStarted(pid_t pid) {
  std::lock_guard lock(mu_);
  steps_.push_back(std::to_string(pid) + " " + startTimeOf(pid));
  writeSteps();
}

void DeployLog::stepEnded(pid_t pid) {
  std::lock_guard lock(mu_);
  std::string prefix = std::to_string(pid) + " ";
  std::erase_if(steps_, [&](const std::string& s) { return s.starts_with(prefix); });
  writeSteps();
}

void DeployLog::flush() {
  std::lock_guard lock(mu_);
  std::string out;
  masker_.finish(out);
  if (fd_ >= 0 && !out.empty()) {
    (void)os::writeAll(fd_, out);
    if (!bellKey_.empty()) logBell().ring(bellKey_);
  }
  masker_ = masker_.fresh();  // finish() ended the stream: start a new one, same automata
}

HostLog::~HostLog() {
  if (!pending_.empty()) log_.output(prefix_ + pending_ + "\n");
}

void HostLog::say(const std::string& line) {
  log_.output(prefix_ + "boucle: " + line + "\n");
}

void HostLog::output(std::string_view bytes) {
  pending_.append(bytes);
  size_t start = 0;
  std::string lines;
  for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines += prefix_;
    lines.append(pending_, start, nl + 1 - start);
  }
  pending_.erase(0, start);
  if (!lines.empty()) log_.output(lines);
}

}  // namespace boucle::deploy
