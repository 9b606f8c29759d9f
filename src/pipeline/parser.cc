#include "pipeline/parser.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "core/suggest.h"
#include "pipeline/parse_context.h"

namespace boucle::pipeline {

using namespace detail;

namespace detail {
// Defined in parse_delivery.cc and parse_operate.cc.
void parseRelease(const Field& f, Pipeline& p, Diagnostics& d);
void parseEnvironments(const Field& f, Pipeline& p, Diagnostics& d);
void parseDeploy(const Field& f, Pipeline& p, Diagnostics& d);
void parseMonitors(const Field& f, Pipeline& p, Diagnostics& d);
void parseNotifications(const Field& f, Pipeline& p, Diagnostics& d);
}  // namespace detail

namespace {

void parseReports(const Field& f, Job& job, Diagnostics& d) {
  MapReader r(f.node, f.pos, "reports", {"junit", "benchmark"}, d);
  if (!r.isMap()) {
    if (!f.node.IsNull()) return;  // MapReader reported it
    return;
  }
  if (auto j = r.get("junit")) job.junit = readGlobs(j, d);
  if (auto b = r.get("benchmark")) job.benchmark = readGlobs(b, d);
}

// `cache:` paths: "~/x" in the job's home or "x" in its workspace, never leaving either.
void parseCache(const Field& f, Job& job, Diagnostics& d) {
  std::vector<SourcePos> pos;
  auto list = readStringList(f, d, &pos);
  if (!list) return;
  for (size_t i = 0; i < list->size(); ++i) {
    std::string entry = (*list)[i];
    while (entry.size() > 1 && entry.back() == '/') entry.pop_back();
    if (auto problem = cachePathProblem(entry); !problem.empty()) {
      d.error(pos[i], "cache: '" + (*list)[i] + "': " + problem);
      continue;
    }
    // One inside another would be mounted through what the job left in the outer one (a
    // symlink, say), so each names a folder of its own.
    std::string nested;
    for (const auto& other : job.cache) {
      if (other == entry || entry.starts_with(other + "/") || other.starts_with(entry + "/"))
        nested = other;
    }
    if (!nested.empty()) {
      d.error(pos[i], "cache: '" + (*list)[i] + "' is or holds '" + nested +
                          "', already a cache folder; list folders apart from each other");
    } else {
      job.cache.push_back(entry);
    }
  }
}

void parseJob(const Field& f, Job& job, Diagnostics& d) {
  job.name = f.key;
  job.pos = f.keyPos;
  if (!validName(f.key)) {
    d.error(f.keyPos,
            "job '" + f.key +
                "': names may only use letters, digits, '-', '_' and '.' (they name files)");
  }
  std::string what = "job '" + f.key + "'";
  MapReader r(
      f.node, f.pos, what,
      {"run", "needs", "env", "timeout", "artifacts", "reports", "isolation", "network", "retry",
       "retries", "only", "except", "checkout", "allow_failure", "shell", "cache", "runs-on"},
      d);
  if (!r.isMap()) {
    if (f.node.IsNull()) d.error(f.keyPos, what + ": expected a mapping with at least 'run'");
    return;
  }
  if (auto run = r.get("run")) {
    if (auto cmds = readStringList(run, d)) job.commands = *cmds;
    if (job.commands.empty()) d.error(run.pos, "run: needs at least one command");
  } else {
    d.error(f.keyPos, what + ": missing 'run' (the command(s) the job executes)");
  }
  if (auto v = r.get("needs")) {
    if (auto l = readStringList(v, d, &job.needsPos)) job.needs = *l;
  }
  if (auto v = r.get("env")) {
    for (auto& e : mapEntries(v.node, v.pos, "env", d)) {
      bool name = !e.key.empty() && !std::isdigit(static_cast<unsigned char>(e.key[0])) &&
                  std::all_of(e.key.begin(), e.key.end(),
                              [](unsigned char c) { return std::isalnum(c) || c == '_'; });
      if (!name) {
        d.error(e.pos, "env: '" + e.key + "' is not a variable name (letters, digits and _)");
      } else if (!e.node.IsScalar()) {
        d.error(e.pos, "env: value of '" + e.key + "' must be a string");
      } else if (e.node.Scalar().find('\0') != std::string::npos) {
        d.error(e.pos, "env: value of '" + e.key + "' holds a NUL byte");
      } else {
        job.env.emplace_back(e.key, e.node.Scalar());
      }
    }
  }
  if (auto v = r.get("timeout")) {
    if (auto t = readDuration(v, d)) job.timeout = *t;
  }
  if (auto v = r.get("artifacts")) job.artifacts = readGlobs(v, d);
  if (auto v = r.get("reports")) parseReports(v, job, d);
  if (auto v = r.get("isolation")) {
    if (auto k = readKeyword(v, {"process", "sandbox", "container"}, d)) {
      job.isolation = *parseIsolation(*k);
    }
  }
  if (auto v = r.get("shell")) {
    if (auto k = readKeyword(v, {"sh", "bash"}, d)) job.shell = *parseShell(*k);
  }
  if (auto v = r.get("network")) {
    if (auto b = readBool(v, d)) job.network = *b;
    if (!job.network && job.isolation == Isolation::kProcess) {
      d.error(v.pos,
              "network: false needs 'isolation: sandbox' (a plain process cannot be "
              "cut off from the network)");
    }
  }
  // `retries` is the same (GitLab says `retry`, most test runners `retries`); one of them.
  auto retry = r.get("retry");
  if (auto also = r.get("retries")) {
    if (retry) d.error(also.keyPos, what + ": 'retry' and 'retries' are the same; give one");
    retry = also;
  }
  if (retry) {
    if (auto n = readInt(retry, 0, 10, d)) job.retry = *n;
  }
  for (auto key : {"only", "except"}) {
    if (auto v = r.get(key)) {
      auto globs = readStringList(v, d);
      if (globs) (std::string_view(key) == "only" ? job.only : job.except) = *globs;
    }
  }
  if (auto v = r.get("checkout")) {
    if (auto b = readBool(v, d)) job.checkout = *b;
  }
  if (auto v = r.get("allow_failure")) {
    if (auto b = readBool(v, d)) job.allowFailure = *b;
  }
  if (auto v = r.get("cache")) parseCache(v, job, d);
  if (auto v = r.get("runs-on")) {
    std::vector<SourcePos> at;
    if (auto labels = readStringList(v, d, &at)) {
      for (size_t i = 0; i < labels->size(); ++i) {
        if (!validName((*labels)[i])) {
          d.error(
              i < at.size() ? at[i] : v.pos,
              "runs-on: '" + (*labels)[i] + "' is not a label (letters, digits, '-', '_' and '.')");
        } else if (std::find(job.runsOn.begin(), job.runsOn.end(), (*labels)[i]) ==
                   job.runsOn.end()) {
          job.runsOn.push_back((*labels)[i]);
        }
      }
    }
  }
}

void checkNeeds(Pipeline& p, Diagnostics& d) {
  std::map<std::string_view, const Job*> byName;
  for (auto& j : p.jobs) byName[j.name] = &j;
  for (auto& j : p.jobs) {
    for (size_t i = 0; i < j.needs.size(); ++i) {
      SourcePos pos = i < j.needsPos.size() ? j.needsPos[i] : j.pos;
      if (j.needs[i] == j.name) {
        d.error(pos, "job '" + j.name + "' needs itself");
      } else if (!byName.count(j.needs[i])) {
        std::vector<std::string_view> names;
        // Not the job itself: a job cannot need itself, so suggesting it helps nobody.
        for (auto& o : p.jobs) {
          if (o.name != j.name) names.push_back(o.name);
        }
        std::string msg = "job '" + j.name + "' needs unknown job '" + j.needs[i] + "'";
        if (auto s = closestMatch(j.needs[i], names)) msg += " (did you mean '" + *s + "'?)";
        d.error(pos, msg);
      }
    }
  }
  // Depth-first search for cycles; each cycle is reported once, at the job that closes it.
  enum Color { kWhite, kGrey, kBlack };
  std::map<std::string_view, Color> color;
  std::vector<std::string_view> stack;
  std::function<void(const Job&)> visit = [&](const Job& j) {
    color[j.name] = kGrey;
    stack.push_back(j.name);
    for (size_t i = 0; i < j.needs.size(); ++i) {
      auto it = byName.find(j.needs[i]);
      if (it == byName.end() || j.needs[i] == j.name) continue;
      Color c = color[it->first];
      if (c == kGrey) {
        std::string path;
        bool on = false;
        for (auto n : stack) {
          on = on || n == it->first;
          if (on) path += std::string(n) + " -> ";
        }
        path += std::string(it->first);
        d.error(i < j.needsPos.size() ? j.needsPos[i] : j.pos, "cycle in needs: " + path);
      } else if (c == kWhite) {
        visit(*it->second);
      }
    }
    stack.pop_back();
    color[j.name] = kBlack;
  };
  for (auto& j : p.jobs) {
    if (color[j.name] == kWhite) visit(j);
  }
}

}  // namespace

ParseResult parsePipeline(std::string_view text) {
  ParseResult result;
  Diagnostics d;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    result.errors.push_back({{e.mark.line + 1, e.mark.column + 1}, "invalid YAML: " + e.msg});
    return result;
  }
  if (!root.IsMap()) {
    d.error({1, 1}, "expected a mapping with 'version' and 'jobs' at the top of the file");
    result.errors = std::move(d.list());
    return result;
  }
  Pipeline& p = result.pipeline;
  MapReader top(
      root, {1, 1}, "pipeline",
      {"version", "jobs", "schedule", "release", "environments", "deploy", "monitor", "notify"}, d);
  if (auto v = top.get("version")) {
    if (auto n = readInt(v, 1, 1, d)) p.version = *n;
  }
  if (auto jobs = top.get("jobs")) {
    for (auto& f : mapEntries(jobs.node, jobs.pos, "jobs", d)) {
      p.jobs.emplace_back();
      parseJob(f, p.jobs.back(), d);
    }
    if (p.jobs.empty() && jobs.node.IsNull()) d.error(jobs.pos, "jobs: define at least one job");
  } else {
    d.error({1, 1}, "missing 'jobs': a pipeline needs at least one job");
  }
  checkNeeds(p, d);
  if (auto v = top.get("schedule")) p.schedule = readCrons(v, "schedule", d);
  if (auto v = top.get("release")) parseRelease(v, p, d);
  if (auto v = top.get("environments")) parseEnvironments(v, p, d);
  if (auto v = top.get("deploy")) parseDeploy(v, p, d);
  if (auto v = top.get("monitor")) parseMonitors(v, p, d);
  if (auto v = top.get("notify")) parseNotifications(v, p, d);
  if (!p.environments.empty() && !p.deploy) {
    d.error(posOf(top.get("environments").node, {1, 1}),
            "environments: declared but there is no 'deploy' section saying how to deploy");
  }
  auto& errs = d.list();
  std::stable_sort(errs.begin(), errs.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.pos.line != b.pos.line ? a.pos.line < b.pos.line : a.pos.column < b.pos.column;
  });
  result.errors = std::move(errs);
  return result;
}

Result<ParseResult> loadPipelineFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return errnoStatus("cannot read " + file.string(), errno);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return errnoStatus("cannot read " + file.string(), errno);
  return parsePipeline(ss.str());
}

std::string formatDiagnostic(std::string_view file, const Diagnostic& d) {
  std::string out(file);
  if (d.pos.line > 0) {
    out.append(":").append(std::to_string(d.pos.line));
    out.append(":").append(std::to_string(d.pos.column));
  }
  out.append(": error: ").append(d.message);
  return out;
}

std::string summarize(const Pipeline& p) {
  auto plural = [](size_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
  };
  std::string s = plural(p.jobs.size(), "job");
  if (!p.schedule.empty()) s += ", " + plural(p.schedule.size(), "schedule");
  if (p.release) s += ", release";
  if (!p.environments.empty()) s += ", " + plural(p.environments.size(), "environment");
  if (p.deploy) s += ", deploy via " + std::string(toString(p.deploy->driver));
  if (!p.monitors.empty()) s += ", " + plural(p.monitors.size(), "monitor");
  if (!p.notifications.empty()) s += ", " + plural(p.notifications.size(), "notification");
  return s;
}

}  // namespace boucle::pipeline
