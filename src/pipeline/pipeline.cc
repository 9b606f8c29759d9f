#include "pipeline/pipeline.h"

#include <array>
#include <cstdio>
#include <set>

#include "core/glob.h"

namespace boucle::pipeline {

const std::vector<std::string_view> kNotifyEvents = {
    "broken",        "fixed",       "failed",          "succeeded", "deploy_started", "deployed",
    "deploy_failed", "rolled_back", "approval_needed", "incident",  "resolved"};

std::string_view toString(Isolation v) {
  switch (v) {
    case Isolation::kProcess:
      return "process";
    case Isolation::kSandbox:
      return "sandbox";
    case Isolation::kContainer:
      return "container";
  }
  return "process";
}

std::optional<Isolation> parseIsolation(std::string_view s) {
  if (s == "process") return Isolation::kProcess;
  if (s == "sandbox") return Isolation::kSandbox;
  if (s == "container") return Isolation::kContainer;
  return std::nullopt;
}

std::string_view toString(Shell v) {
  return v == Shell::kBash ? "bash" : "sh";
}

std::optional<Shell> parseShell(std::string_view s) {
  if (s == "sh") return Shell::kSh;
  if (s == "bash") return Shell::kBash;
  return std::nullopt;
}

std::string_view toString(Driver v) {
  switch (v) {
    case Driver::kLocal:
      return "local";
    case Driver::kSsh:
      return "ssh";
    case Driver::kAnsible:
      return "ansible";
    case Driver::kCommand:
      return "command";
  }
  return "local";
}

std::string_view toString(MonitorKind v) {
  switch (v) {
    case MonitorKind::kHttp:
      return "http";
    case MonitorKind::kTcp:
      return "tcp";
    case MonitorKind::kCommand:
      return "run";
    case MonitorKind::kPrometheus:
      return "prometheus";
  }
  return "http";
}

namespace {
bool anyMatch(const std::vector<std::string>& globs, std::string_view branch) {
  std::string b(branch);
  for (auto& g : globs) {
    if (branchMatches(g, b)) return true;
  }
  return false;
}
}  // namespace

bool Job::buildsOn(std::string_view branch) const {
  if (!only.empty() && !anyMatch(only, branch)) return false;
  return !anyMatch(except, branch);
}

const Job* Pipeline::findJob(std::string_view name) const {
  for (auto& j : jobs) {
    if (j.name == name) return &j;
  }
  return nullptr;
}

bool Pipeline::checksOut() const {
  for (const auto& j : jobs) {
    if (j.checkout) return true;
  }
  return false;
}

Status selectJobs(Pipeline& p, const std::vector<std::string>& wanted) {
  if (wanted.empty()) return Status::Ok();
  std::set<std::string> keep;
  std::vector<std::string> todo = wanted;
  while (!todo.empty()) {
    std::string name = todo.back();
    todo.pop_back();
    const auto* job = p.findJob(name);
    if (!job) return Status::NotFound("no job named '" + name + "' in the pipeline");
    if (!keep.insert(name).second) continue;
    todo.insert(todo.end(), job->needs.begin(), job->needs.end());
  }
  std::erase_if(p.jobs, [&](const Job& j) { return !keep.count(j.name); });
  return Status::Ok();
}

namespace {

constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

int dayIndex(std::string_view s) {
  for (size_t i = 0; i < kDays.size(); ++i) {
    if (kDays[i] == s) return static_cast<int>(i);
  }
  return -1;
}

bool parseClock(std::string_view s, int* minutes) {
  int h = 0, m = 0;
  char extra = 0;
  std::string str(s);
  if (s.size() != 5 || std::sscanf(str.c_str(), "%2d:%2d%c", &h, &m, &extra) != 2) return false;
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return false;
  *minutes = h * 60 + m;
  return true;
}

// Parses "Mon-Fri", "Sat,Sun", "daily" into a bit mask.
bool parseDays(std::string_view s, unsigned* mask) {
  if (s == "daily" || s == "*") {
    *mask = 0x7f;
    return true;
  }
  *mask = 0;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    std::string_view part = s.substr(start, comma - start);
    size_t dash = part.find('-');
    int a = dayIndex(part.substr(0, dash));
    int b = dash == std::string_view::npos ? a : dayIndex(part.substr(dash + 1));
    if (a < 0 || b < 0) return false;
    for (int d = a;; d = (d + 1) % 7) {
      *mask |= 1u << d;
      if (d == b) break;
    }
    start = comma + 1;
  }
  return *mask != 0;
}

}  // namespace

std::optional<Window> parseWindow(std::string_view text, std::string* error) {
  auto fail = [&](const char* why) -> std::optional<Window> {
    if (error) *error = std::string(why) + " in '" + std::string(text) + "'";
    return std::nullopt;
  };
  size_t sp = text.find(' ');
  if (sp == std::string_view::npos) {
    return fail("expected 'DAYS HH:MM-HH:MM' such as 'Sat 02:00-05:00' or 'Mon-Fri 22:00-06:00'");
  }
  Window w;
  w.text = std::string(text);
  if (!parseDays(text.substr(0, sp), &w.days)) {
    return fail("days must be Mon..Sun, a range such as Mon-Fri, a list such as Sat,Sun, or daily");
  }
  std::string_view times = text.substr(sp + 1);
  size_t dash = times.find('-');
  if (dash == std::string_view::npos || !parseClock(times.substr(0, dash), &w.startMinute) ||
      !parseClock(times.substr(dash + 1), &w.endMinute)) {
    return fail("times must be HH:MM-HH:MM (24-hour clock)");
  }
  if (w.startMinute == w.endMinute) return fail("the window is empty");
  // 24:00 ends a day; a window starts at 00:00 of the next instead (found by fuzzing).
  if (w.startMinute >= 24 * 60) return fail("a window starts at 00:00 to 23:59, not 24:00");
  return w;
}

std::string cachePathProblem(std::string_view path) {
  std::string_view rel = path;
  if (rel.starts_with("~/")) {
    rel.remove_prefix(2);
  } else if (rel.starts_with("~")) {
    return "only the job's own home (~/...) or a workspace-relative folder";
  } else if (rel.starts_with("/")) {
    return "an absolute path; use ~/... (the job's home) or a workspace-relative folder";
  }
  if (rel.empty()) return "names no folder";
  if (path.size() > 200) return "longer than 200 characters";
  while (!rel.empty()) {
    auto slash = rel.find('/');
    std::string_view part = rel.substr(0, slash);
    if (part == "." || part == "..") return "'.' and '..' are not allowed";
    if (part.empty() && slash != std::string_view::npos) return "an empty path component";
    for (char c : part) {
      if (static_cast<unsigned char>(c) < 0x20) return "a control character";
    }
    rel = slash == std::string_view::npos ? std::string_view{} : rel.substr(slash + 1);
  }
  return "";
}

}  // namespace boucle::pipeline
