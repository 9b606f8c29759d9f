// The delivery half of the file: release, environments and deploy.
#include <cmath>
#include <map>

#include "core/suggest.h"
#include "pipeline/parse_context.h"

namespace boucle::pipeline::detail {

void parseRelease(const Field& f, Pipeline& p, Diagnostics& d) {
  MapReader r(f.node, f.pos, "release", {"version", "notes", "branches", "tags", "artifacts"}, d);
  if (!r.isMap()) return;
  ReleaseSpec spec;
  spec.pos = f.pos;
  if (auto v = r.get("version")) {
    if (auto k = readKeyword(v, {"semver", "calver"}, d)) {
      spec.version = *k == "semver" ? VersionScheme::kSemver : VersionScheme::kCalver;
    }
  }
  if (auto v = r.get("notes")) {
    if (auto k = readKeyword(v, {"conventional", "commits", "none"}, d)) {
      spec.notes = *k == "conventional" ? NotesStyle::kConventional
                   : *k == "commits"    ? NotesStyle::kCommits
                                        : NotesStyle::kNone;
    }
  }
  if (auto v = r.get("branches")) {
    if (auto l = readStringList(v, d)) spec.branches = *l;
  }
  if (auto v = r.get("tags")) {
    if (auto l = readStringList(v, d)) spec.tags = *l;
  }
  if (auto v = r.get("artifacts")) {
    std::vector<SourcePos> pos;
    if (auto l = readStringList(v, d, &pos)) {
      for (size_t i = 0; i < l->size(); ++i) {
        const std::string& a = (*l)[i];
        auto colon = a.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == a.size()) {
          d.error(pos[i], "artifacts: expected 'job:pattern', e.g. 'build:dist/*.tar.gz'");
        } else if (!p.findJob(a.substr(0, colon))) {
          d.error(pos[i], "artifacts: unknown job '" + a.substr(0, colon) + "'");
        }
      }
      spec.artifacts = *l;
    }
  }
  p.release = spec;
}

namespace {

// Verification watches for minutes, holding the environment's deploy slot: a day is the most
// anyone would wait (Argo Rollouts' analyses run for minutes to hours).
constexpr Millis kMaxVerify = std::chrono::hours(24);
constexpr size_t kMaxVerifyChecks = 100;

std::optional<Environment::Verify> parseVerify(const Field& f, Diagnostics& d) {
  MapReader r(f.node, f.pos, "verify", {"for", "checks"}, d);
  if (!r.isMap()) return std::nullopt;
  Environment::Verify v;
  v.pos = f.pos;
  if (auto t = r.get("for")) {
    if (auto ms = readDuration(t, d)) {
      v.duration = *ms;
      if (*ms < std::chrono::seconds(1) || *ms > kMaxVerify)
        d.error(t.pos, "for: between 1s and 24h");
    }
  } else {
    d.error(f.pos, "verify: missing 'for' (how long to watch after the smoke checks, e.g. 10m)");
  }
  if (auto c = r.get("checks")) parseProbeList(c, "checks", kMaxVerifyChecks, v.checks, d);
  return v;
}

// "10%" or 0.1; "5ms", "2s" (milliseconds) or a plain number (a rate's unit).
std::optional<double> readAmount(const Field& f, bool percent, Diagnostics& d) {
  if (!f.node.IsScalar()) {
    d.error(f.pos, f.key + ": expected " + (percent ? "a percentage such as 10%" : "a number"));
    return std::nullopt;
  }
  std::string text = f.node.Scalar();
  try {
    size_t used = 0;
    double v = std::stod(text, &used);
    std::string unit = text.substr(used);
    if (percent && unit == "%") {
      v /= 100;
    } else if (percent && unit.empty() && v > 1) {
      throw std::invalid_argument(text);  // "10": ten times, or 10%? Said with its %.
    } else if (!percent && !unit.empty()) {
      auto ms = parseDuration(text);
      if (!ms) throw std::invalid_argument(text);
      v = static_cast<double>(ms->count());
    } else if (!unit.empty()) {
      throw std::invalid_argument(text);
    }
    if (!std::isfinite(v) || v < 0) throw std::invalid_argument(text);
    return v;
  } catch (const std::exception&) {
    d.error(f.pos, f.key + ": '" + text + "' is not " +
                       (percent ? "a percentage such as 10%" : "an amount such as 5ms or 20"));
    return std::nullopt;
  }
}

std::optional<Environment::Perf> parsePerf(const Field& f, const Pipeline& p, Diagnostics& d) {
  MapReader r(f.node, f.pos, "perf",
              {"job", "metric", "max_regression", "floor", "name", "alpha", "interleave"}, d);
  if (!r.isMap()) return std::nullopt;
  Environment::Perf perf;
  perf.pos = f.pos;
  if (auto v = r.get("job")) {
    if (auto s = readString(v, d)) {
      perf.job = *s;
      if (!p.findJob(*s)) d.error(v.pos, "perf: unknown job '" + *s + "'");
    }
  } else {
    d.error(f.pos, "perf: missing 'job' (the job that measures, e.g. a Locust load test)");
  }
  if (auto v = r.get("metric")) {
    if (auto k = readKeyword(
            v, {"mean", "median", "p90", "p95", "p99", "min", "max", "rps", "failures"}, d))
      perf.figure = *k;
  }
  if (auto v = r.get("max_regression")) {
    if (auto a = readAmount(v, true, d)) perf.maxRegression = *a;
  }
  if (auto v = r.get("floor")) {
    if (auto a = readAmount(v, false, d)) perf.floor = *a;
  }
  if (auto v = r.get("name")) {
    if (auto s = readString(v, d)) perf.name = *s;
  }
  if (auto v = r.get("alpha")) {
    if (auto a = readAmount(v, false, d)) {
      if (*a <= 0 || *a >= 0.5) d.error(v.pos, "alpha: between 0 and 0.5, e.g. 0.05");
      perf.alpha = *a;
    }
  }
  if (auto v = r.get("interleave")) {
    if (auto n = readInt(v, 2, 20, d)) perf.interleave = *n;
    // Its rounds are jobs made on the server from the job: agents elsewhere are given jobs
    // of the file as written.
    if (const Job* j = p.findJob(perf.job); j && !j->runsOn.empty())
      d.error(v.pos, "interleave: the rounds run on the server's own agent; job '" + perf.job +
                         "' has runs-on");
  }
  return perf;
}

}  // namespace

void parseEnvironments(const Field& f, Pipeline& p, Diagnostics& d) {
  for (auto& e : mapEntries(f.node, f.pos, "environments", d)) {
    Environment env;
    env.name = e.key;
    env.pos = e.keyPos;
    std::string what = "environment '" + e.key + "'";
    if (!validName(e.key)) {
      d.error(e.keyPos, what +
                            ": names may only use letters, digits, '-', '_' and '.' (they "
                            "name folders)");
    }
    MapReader r(e.node, e.pos, what,
                {"auto", "after", "approval", "four_eyes", "window", "deployers", "verify", "perf",
                 "blank", "schedule"},
                d);
    if (auto v = r.get("auto")) {
      if (auto b = readBool(v, d)) env.autoDeploy = *b;
    }
    if (auto v = r.get("after")) {
      if (auto s = readString(v, d)) {
        env.after = *s;
        env.afterPos = v.pos;
      }
    }
    if (auto v = r.get("approval")) {
      if (auto l = readStringList(v, d)) env.approval = *l;
    }
    if (auto v = r.get("deployers")) {
      if (auto l = readStringList(v, d)) env.deployers = *l;
    }
    if (auto v = r.get("four_eyes")) {
      if (auto b = readBool(v, d)) env.fourEyes = *b;
      if (env.fourEyes && env.approval.empty()) {
        d.error(v.pos, "four_eyes: needs an 'approval' list naming who may approve");
      }
    }
    if (auto v = r.get("window")) {
      if (auto s = readString(v, d)) {
        std::string err;
        env.window = parseWindow(*s, &err);
        if (!env.window) d.error(v.pos, "window: " + err);
      }
    }
    if (auto v = r.get("verify")) env.verify = parseVerify(v, d);
    if (auto v = r.get("perf")) {
      env.perf = parsePerf(v, p, d);
      if (env.after.empty() && env.perf && !env.perf->interleave)
        d.error(v.pos,
                "perf: needs 'after' (the job measures the environment before this one) or "
                "'interleave' (it times both releases' artifacts in turns)");
    }
    if (auto v = r.get("blank")) {
      if (auto b = readBool(v, d)) env.blank = *b;
    }
    if (auto v = r.get("schedule")) {
      env.schedule = readCrons(v, "schedule", d);
      env.schedulePos = v.pos;
    }
    p.environments.push_back(std::move(env));
  }
  // `after` must name an environment declared earlier: the file lists them in promotion order.
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < p.environments.size(); ++i) index[p.environments[i].name] = i;
  for (size_t i = 0; i < p.environments.size(); ++i) {
    auto& env = p.environments[i];
    if (env.after.empty()) continue;
    auto it = index.find(env.after);
    if (it == index.end()) {
      std::vector<std::string_view> names;
      for (auto& o : p.environments) names.push_back(o.name);
      std::string msg = "after: unknown environment '" + env.after + "'";
      if (auto s = closestMatch(env.after, names)) msg += " (did you mean '" + *s + "'?)";
      d.error(env.afterPos, msg);
    } else if (it->second >= i) {
      d.error(env.afterPos, "after: '" + env.after + "' must be listed before '" + env.name +
                                "' (environments are in promotion order)");
    }
  }
}

namespace {

void parseStrategy(const Field& f, DeploySpec& spec, Diagnostics& d) {
  if (f.node.IsScalar()) {
    if (auto k = readKeyword(f, {"all", "rolling", "blue-green"}, d)) {
      spec.strategy.kind = *k == "all"       ? StrategyKind::kAllAtOnce
                           : *k == "rolling" ? StrategyKind::kRolling
                                             : StrategyKind::kBlueGreen;
    }
    return;
  }
  MapReader r(f.node, f.pos, "strategy", {"rolling", "blue-green"}, d);
  if (!r.isMap()) return;
  if (r.fields().size() != 1) {
    d.error(f.pos, "strategy: give exactly one of 'rolling: N' or 'blue-green'");
    return;
  }
  if (auto v = r.get("rolling")) {
    spec.strategy.kind = StrategyKind::kRolling;
    if (auto n = readInt(v, 1, 10000, d)) spec.strategy.batch = *n;
  } else {
    spec.strategy.kind = StrategyKind::kBlueGreen;
  }
}

void parseSmoke(const Field& f, DeploySpec& spec, Diagnostics& d) {
  if (!f.node.IsSequence()) {
    d.error(f.pos, "smoke: expected a list of checks (- http: URL, - tcp: HOST:PORT, - run: CMD)");
    return;
  }
  for (const auto& item : f.node) {
    SourcePos ip = posOf(item, f.pos);
    MapReader r(item, ip, "smoke check", {"http", "tcp", "run", "expect", "retries"}, d);
    if (!r.isMap()) continue;
    SmokeCheck c;
    c.pos = ip;
    int kinds = 0;
    for (auto [key, kind] : {std::pair{"http", CheckKind::kHttp}, std::pair{"tcp", CheckKind::kTcp},
                             std::pair{"run", CheckKind::kCommand}}) {
      if (auto v = r.get(key)) {
        ++kinds;
        c.kind = kind;
        if (auto s = readString(v, d)) {
          c.target = *s;
          checkTemplate(v, *s, d);
          if (kind == CheckKind::kHttp && s->rfind("http://", 0) != 0 &&
              s->rfind("https://", 0) != 0 && s->rfind("{{", 0) != 0) {
            d.error(v.pos, "http: expected a URL starting with http:// or https://");
          }
        }
      }
    }
    if (kinds != 1) {
      d.error(ip, "smoke check: give exactly one of 'http', 'tcp' or 'run'");
      continue;
    }
    if (auto v = r.get("expect")) parseExpect(v, c.expectStatus, c.expectContains, &c.within, d);
    if (auto v = r.get("retries")) {
      if (auto n = readInt(v, 0, 100, d)) c.retries = *n;
    }
    spec.smoke.push_back(std::move(c));
  }
}

void parseConfigFiles(const Field& f, DeploySpec& spec, Diagnostics& d) {
  if (!f.node.IsSequence()) {
    d.error(f.pos, "config: expected a list of '- template: FILE' / 'to: PATH' entries");
    return;
  }
  for (const auto& item : f.node) {
    SourcePos ip = posOf(item, f.pos);
    MapReader r(item, ip, "config", {"template", "to"}, d);
    if (!r.isMap()) continue;
    ConfigFile c;
    auto t = r.get("template");
    auto to = r.get("to");
    if (!t || !to) {
      d.error(ip, "config: each entry needs both 'template' and 'to'");
      continue;
    }
    if (auto s = readString(t, d)) c.templatePath = *s;
    if (auto s = readString(to, d)) {
      c.to = *s;
      checkTemplate(to, *s, d);
    }
    spec.config.push_back(std::move(c));
  }
}

std::optional<Migration> parseMigration(const Field& f, Diagnostics& d) {
  MapReader r(f.node, f.pos, "migrate", {"up", "down", "irreversible"}, d);
  if (!r.isMap()) return std::nullopt;
  Migration m;
  m.pos = f.pos;
  if (auto v = r.get("up")) {
    if (auto s = readString(v, d)) m.up = *s;
  }
  if (auto v = r.get("down")) {
    if (auto s = readString(v, d)) m.down = *s;
  }
  if (auto v = r.get("irreversible")) {
    if (auto b = readBool(v, d)) m.irreversible = *b;
    if (m.irreversible && !m.down.empty()) {
      d.error(v.pos,
              "irreversible: a migration with a 'down' can be undone; give one or the other");
    }
  }
  if (m.up.empty()) {
    d.error(f.pos,
            "migrate: missing 'up' (the command that changes the database, e.g. "
            "./bin/migrate up)");
  }
  // Said either way, so that nobody finds out during a rollback that it cannot be undone.
  if (m.down.empty() && !m.irreversible) {
    d.error(f.pos, "migrate: give 'down' (the command that undoes it) or 'irreversible: true'");
  }
  return m;
}

}  // namespace

void parseExpect(const Field& f, int& status, std::string& contains, Millis* within,
                 Diagnostics& d) {
  MapReader r(f.node, f.pos, "expect", {"status", "contains", "within"}, d);
  if (auto v = r.get("status")) {
    if (auto n = readInt(v, 100, 599, d)) status = *n;
  }
  if (auto v = r.get("contains")) {
    if (auto s = readString(v, d)) contains = *s;
  }
  if (auto v = r.get("within")) {
    if (!within) {
      d.error(v.pos, "within: not used here (set 'timeout' on the monitor)");
    } else if (auto t = readDuration(v, d)) {
      *within = *t;
    }
  }
}

void parseDeploy(const Field& f, Pipeline& p, Diagnostics& d) {
  MapReader r(f.node, f.pos, "deploy",
              {"driver", "hosts", "strategy", "config", "steps", "smoke", "on_failure", "playbook",
               "command", "timeout", "migrate"},
              d);
  if (!r.isMap()) return;
  DeploySpec spec;
  spec.pos = f.pos;
  if (auto v = r.get("driver")) {
    if (auto k = readKeyword(v, {"local", "ssh", "ansible", "command"}, d)) {
      spec.driver = *k == "local"     ? Driver::kLocal
                    : *k == "ssh"     ? Driver::kSsh
                    : *k == "ansible" ? Driver::kAnsible
                                      : Driver::kCommand;
    }
  } else {
    d.error(f.pos, "deploy: missing 'driver' (local, ssh, ansible or command)");
  }
  if (auto v = r.get("hosts")) {
    if (auto s = readString(v, d)) {
      spec.hosts = *s;
      checkTemplate(v, *s, d);
    }
  } else if (spec.driver == Driver::kSsh || spec.driver == Driver::kAnsible) {
    d.error(f.pos, "deploy: the " + std::string(toString(spec.driver)) +
                       " driver needs 'hosts' (e.g. \"{{ env.hosts }}\")");
  }
  if (auto v = r.get("strategy")) parseStrategy(v, spec, d);
  if (auto v = r.get("config")) parseConfigFiles(v, spec, d);
  if (auto v = r.get("steps")) {
    if (v.node.IsSequence()) {
      for (const auto& item : v.node) {
        SourcePos ip = posOf(item, v.pos);
        if (item.IsScalar()) {
          spec.steps.push_back(item.Scalar());
          continue;
        }
        MapReader s(item, ip, "step", {"run"}, d);
        if (auto run = s.get("run")) {
          if (auto str = readString(run, d)) spec.steps.push_back(*str);
        } else if (s.isMap()) {
          d.error(ip, "step: missing 'run'");
        }
      }
    } else {
      d.error(v.pos, "steps: expected a list of '- run: COMMAND'");
    }
  }
  if (auto v = r.get("smoke")) parseSmoke(v, spec, d);
  if (auto v = r.get("on_failure")) {
    if (auto k = readKeyword(v, {"rollback", "stop"}, d)) {
      spec.onFailure = *k == "rollback" ? OnFailure::kRollback : OnFailure::kStop;
    }
  }
  if (auto v = r.get("playbook")) {
    if (auto s = readString(v, d)) spec.playbook = *s;
  }
  if (auto v = r.get("command")) {
    if (auto s = readString(v, d)) spec.command = *s;
  }
  if (auto v = r.get("timeout")) {
    if (auto t = readDuration(v, d)) spec.timeout = *t;
  }
  if (auto v = r.get("migrate")) {
    spec.migrate = parseMigration(v, d);
    if (spec.driver == Driver::kAnsible) {
      d.error(v.pos,
              "migrate: the ansible driver runs migrations from its playbook (run_once); "
              "migrate is for the local, command and ssh drivers");
    }
  }
  if (spec.driver == Driver::kAnsible && spec.playbook.empty()) {
    d.error(f.pos, "deploy: the ansible driver needs 'playbook'");
  }
  if (spec.driver == Driver::kCommand && spec.command.empty() && spec.steps.empty()) {
    d.error(f.pos, "deploy: the command driver needs 'command' or 'steps'");
  }
  p.deploy = std::move(spec);
}

}  // namespace boucle::pipeline::detail
