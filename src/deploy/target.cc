#include "deploy/target.h"

#include <algorithm>
#include <cctype>

#include "pipeline/parser.h"
#include "runner/job_env.h"
#include "scm/git_repo.h"

namespace boucle::deploy {
namespace fs = std::filesystem;

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? std::toupper(c) : '_';
  return s;
}

// Whether `p` stays inside `root` once normalised (no "..", no absolute escape).
bool inside(const fs::path& root, const fs::path& p) {
  auto r = root.lexically_normal(), n = p.lexically_normal();
  auto [a, b] = std::mismatch(r.begin(), r.end(), n.begin(), n.end());
  return a == r.end() || (a != r.end() && a->empty() && std::next(a) == r.end());
}

// Letters, digits, '.', '_' and '-', not starting with '-' (ssh would read an option).
bool plainWord(std::string_view s) {
  if (s.empty() || s[0] == '-') return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

// Config files, steps and smoke targets rendered with `values`.
Result<Plan> render(const Target& t, const TemplateValues& values,
                    const std::vector<std::string>& templates, bool command) {
  Plan plan;
  for (size_t i = 0; i < t.spec.config.size(); ++i) {
    const auto& c = t.spec.config[i];
    auto to = renderTemplate(c.to, values, "config 'to' of " + c.templatePath);
    if (!to.ok()) return to.status();
    if (!fs::path(*to).is_absolute() || !inside(t.dir, *to)) {
      return Status::Invalid("config file " + *to + " is outside " + t.dir.string());
    }
    auto content = renderTemplate(templates[i], values, c.templatePath);
    if (!content.ok()) return content.status();
    plan.configFiles.emplace_back(*to, *content);
  }
  std::vector<std::string> steps = t.spec.steps;
  if (command) steps.push_back(t.spec.command);
  for (const auto& s : steps) {
    auto step = renderTemplate(s, values, "step '" + s + "'");
    if (!step.ok()) return step.status();
    plan.steps.push_back(*step);
  }
  for (size_t i = 0; i < t.spec.smoke.size(); ++i) {
    auto target =
        renderTemplate(t.spec.smoke[i].target, values, "smoke check " + std::to_string(i + 1));
    if (!target.ok()) return target.status();
    plan.smokeTargets.push_back(*target);
  }
  return plan;
}

}  // namespace

std::string envVariable(const std::string& key) {
  return "BOUCLE_ENV_" + upper(key);
}

Result<std::vector<Host>> parseHosts(const std::string& text) {
  std::vector<Host> hosts;
  std::string word;
  auto take = [&]() -> Status {
    if (word.empty()) return Status::Ok();
    Host h;
    h.name = word;
    std::string rest = word;
    if (auto at = rest.find('@'); at != std::string::npos) {
      h.user = rest.substr(0, at);
      rest = rest.substr(at + 1);
      if (!plainWord(h.user)) return Status::Invalid("host '" + word + "': bad user name");
    }
    if (auto colon = rest.find(':'); colon != std::string::npos) {
      std::string port = rest.substr(colon + 1);
      rest = rest.substr(0, colon);
      bool digits = !port.empty() && port.size() <= 5 &&
                    std::all_of(port.begin(), port.end(), [](char c) { return std::isdigit(c); });
      h.port = digits ? std::stoi(port) : 0;
      if (h.port < 1 || h.port > 65535) return Status::Invalid("host '" + word + "': bad port");
    }
    if (!plainWord(rest)) return Status::Invalid("host '" + word + "': bad host name");
    h.address = rest;
    for (const auto& other : hosts) {
      if (other.name == h.name) return Status::Invalid("host '" + word + "' is named twice");
    }
    hosts.push_back(std::move(h));
    word.clear();
    return Status::Ok();
  };
  for (char c : text) {
    if (c == ' ' || c == ',' || c == '\n' || c == '\t') {
      if (auto st = take(); !st.ok()) return st;
    } else {
      word += c;
    }
  }
  if (auto st = take(); !st.ok()) return st;
  return hosts;
}

namespace {

size_t batchSize(const Target& t) {
  bool rolling = t.spec.strategy.kind == pipeline::StrategyKind::kRolling;
  return rolling ? static_cast<size_t>(std::max(1, t.spec.strategy.batch))
                 : std::max<size_t>(1, t.hosts.size());
}

}  // namespace

std::vector<Batch> batchesOf(const Target& t) {
  std::vector<Batch> out;
  size_t size = batchSize(t);
  for (size_t i = 0; i < t.hosts.size(); ++i) {
    if (i % size == 0) out.emplace_back();
    out.back().push_back(&t.hosts[i]);
  }
  return out;
}

std::string describeBatches(const Target& t) {
  bool rolling = t.spec.strategy.kind == pipeline::StrategyKind::kRolling;
  return std::to_string(t.hosts.size()) + " host(s), " +
         (rolling ? "rolling, " + std::to_string(batchSize(t)) + " at a time" : "all at once");
}

std::string namesOf(const Batch& hosts) {
  std::string out;
  for (const auto* h : hosts) {
    if (!out.empty()) out += ", ";
    out += h->name;
  }
  return out;
}

std::vector<std::string> deployVariables(const Target& t) {
  std::vector<std::string> out;
  for (const auto& e : t.environ) {
    if (e.starts_with("BOUCLE_")) out.push_back(e);
  }
  return out;
}

Result<std::vector<store::EnvValue>> unsealedValues(store::Store& store,
                                                    const auth::SecretBox* secrets,
                                                    const std::string& project,
                                                    const std::string& env) {
  auto values = store.listEnvValues(project, env);
  if (!values.ok()) return values.status();
  for (auto& v : *values) {
    if (!v.secret) continue;
    if (!secrets) return Status::Internal("no key to open secrets");
    auto plain = secrets->unseal(v.value);
    if (!plain.ok()) return Status::Invalid("secret " + v.key + ": " + plain.status().message());
    v.value = *plain;
  }
  return values;
}

Result<Target> describeTarget(const store::Release& release, const std::string& env,
                              const std::vector<store::EnvValue>& values,
                              const fs::path& workRoot) {
  Target t;
  t.release = release;
  t.env = env;
  auto parsed = pipeline::parsePipeline(release.pipeline);
  if (!parsed.ok() || !parsed.pipeline.deploy) {
    return Status::Invalid(release.version + "'s pipeline file has no deploy section");
  }
  t.spec = *parsed.pipeline.deploy;
  auto driver = t.spec.driver;
  bool command = driver == pipeline::Driver::kCommand;
  std::vector<std::string> environ = runner::inheritedEnvironment();
  for (const auto& v : values) {
    t.values["env." + v.key] = v.value;
    environ.push_back(envVariable(v.key) + "=" + v.value);
    if (v.secret) t.secrets.push_back(v.value);
  }
  if (command && !t.values.count("env.dir")) {
    t.values["env.dir"] = (workRoot / release.project / env).string();
  }
  auto dir = t.values.find("env.dir");
  bool hasDir = dir != t.values.end() && !dir->second.empty() && dir->second[0] == '/';
  // Ansible playbooks put releases where they like; every other driver needs the folder.
  if (!hasDir && driver != pipeline::Driver::kAnsible) {
    return Status::Invalid(env + " has no absolute 'dir' value for the " +
                           std::string(pipeline::toString(driver)) + " driver (boucle env set " +
                           release.project + " " + env + " dir=/srv/…)");
  }
  t.values["release.version"] = release.version;
  t.values["commit.sha"] = release.commit;
  t.values["project.name"] = release.project;
  t.values["env.name"] = env;
  environ.push_back("BOUCLE_RELEASE_VERSION=" + release.version);
  if (hasDir) {
    t.dir = dir->second;
    fs::path releaseDir = t.dir / "releases" / release.version;
    t.values["release.dir"] = releaseDir.string();
    environ.push_back("BOUCLE_RELEASE_DIR=" + releaseDir.string());
  }
  environ.push_back("BOUCLE_RELEASE_COMMIT=" + release.commit);
  environ.push_back("BOUCLE_PROJECT=" + release.project);
  environ.push_back("BOUCLE_ENVIRONMENT=" + env);
  t.environ = std::move(environ);
  return t;
}

Result<Target> prepareTarget(const store::Release& release, const std::string& env,
                             const std::vector<store::EnvValue>& values, const fs::path& mirror,
                             const fs::path& workRoot) {
  auto described = describeTarget(release, env, values, workRoot);
  if (!described.ok()) return described.status();
  Target t = std::move(*described);
  t.mirror = mirror;
  auto driver = t.spec.driver;
  bool command = driver == pipeline::Driver::kCommand;
  bool remote = driver == pipeline::Driver::kSsh || driver == pipeline::Driver::kAnsible;

  if (t.spec.strategy.kind == pipeline::StrategyKind::kBlueGreen) {
    return Status::Invalid(
        "strategy blue-green is not built yet: use rolling: N, or leave the "
        "strategy out (all hosts at once)");
  }
  if (driver == pipeline::Driver::kAnsible && t.spec.playbook.empty()) {
    return Status::Invalid(
        "the ansible driver needs a playbook (deploy: playbook: deploy/site.yml)");
  }
  if (driver == pipeline::Driver::kAnsible && (!t.spec.steps.empty() || !t.spec.config.empty())) {
    return Status::Invalid(
        "the ansible driver runs its playbook: steps and config files belong "
        "in the playbook, not in the deploy section");
  }
  std::vector<std::string> templates;
  for (const auto& c : t.spec.config) {
    auto text = scm::fileAtCommit(mirror, release.commit, c.templatePath);
    if (!text.ok()) return Status::NotFound("config template " + text.status().message());
    templates.push_back(std::move(*text));
  }
  if (!remote) {
    auto plan = render(t, t.values, templates, command);
    if (!plan.ok()) return plan.status();
    t.plan = std::move(*plan);
    return t;
  }
  auto hostsText = renderTemplate(t.spec.hosts.empty() ? "{{ env.hosts }}" : t.spec.hosts, t.values,
                                  "deploy hosts");
  if (!hostsText.ok()) return hostsText.status();
  auto hosts = parseHosts(*hostsText);
  if (!hosts.ok()) return hosts.status();
  if (hosts->empty()) return Status::Invalid(env + " has no hosts to deploy to");
  for (auto& h : *hosts) {
    TemplateValues v = t.values;
    v["host.name"] = h.name;
    v["host.address"] = h.address;
    auto plan = render(t, v, templates, false);
    if (!plan.ok()) return Status::Invalid(h.name + ": " + plan.status().message());
    h.plan = std::move(*plan);
  }
  t.hosts = std::move(*hosts);
  return t;
}

}  // namespace boucle::deploy
