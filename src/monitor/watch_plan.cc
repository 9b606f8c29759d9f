#include "monitor/watch_plan.h"

#include <memory>

#include "deploy/deployer.h"
#include "deploy/policy.h"
#include "deploy/target.h"
#include "deploy/template.h"
#include "deploy/verify.h"
#include "pipeline/parser.h"
#include "scm/git_repo.h"

namespace boucle::monitor {

namespace fs = std::filesystem;

namespace {

bool namesHost(const pipeline::Monitor& m) {
  return m.target.find("host.") != std::string::npos || m.query.find("host.") != std::string::npos;
}

// Where a `run` probe starts: the live release's folder on this machine, or the environment's.
fs::path workingDir(const deploy::Target& t) {
  std::error_code ec;
  if (auto it = t.values.find("release.dir"); it != t.values.end()) {
    if (fs::is_directory(it->second, ec)) return it->second;
  }
  if (!t.dir.empty() && fs::is_directory(t.dir, ec)) return t.dir;
  return "/";  // never the data folder
}

// What runs in `env`: a release under verification (deployed, its smoke checks passed, not yet
// succeeded; not one whose verification failed and is being rolled back) or the newest
// succeeded deploy's.
Result<deploy::Current> liveRelease(store::Store& store, const std::string& project,
                                    const std::string& env) {
  auto recent = store.listDeploys(project, env, 20);
  if (!recent.ok()) return recent.status();
  for (const auto& d : *recent) {
    if (deploy::underVerification(d)) return deploy::Current{d.version, d};
  }
  return deploy::currentRelease(store, project, env);
}

void planEnv(store::Store& store, const auth::SecretBox* secrets, const fs::path& dataDir,
             const std::string& project, const std::string& env, WatchPlan& out) {
  std::string where = project + "/" + env;
  auto current = liveRelease(store, project, env);
  if (!current.ok()) return out.problems.push_back(where + ": " + current.status().message());
  if (current->version.empty()) return;  // nothing runs there
  auto release = store.getRelease(project, current->version);
  if (!release.ok()) return out.problems.push_back(where + ": " + release.status().message());
  auto parsed = pipeline::parsePipeline(release->pipeline);
  if (!parsed.ok() || parsed.pipeline.monitors.empty()) return;
  auto values = deploy::unsealedValues(store, secrets, project, env);
  if (!values.ok()) return out.problems.push_back(where + ": " + values.status().message());
  std::optional<int64_t> deployId;
  if (current->deploy) deployId = current->deploy->id;
  planRelease(*release, env, *values, parsed.pipeline.monitors, dataDir, deployId, out);
}

}  // namespace

void planRelease(const store::Release& release, const std::string& env,
                 const std::vector<store::EnvValue>& values,
                 const std::vector<pipeline::Monitor>& monitors, const fs::path& dataDir,
                 std::optional<int64_t> deployId, WatchPlan& out) {
  const std::string& project = release.project;
  std::string where = project + "/" + env;
  auto target = deploy::describeTarget(release, env, values, dataDir / "environments");
  if (!target.ok()) return out.problems.push_back(where + ": " + target.status().message());
  auto masker = std::make_shared<const runner::Masker>(target->secrets);
  bool remote = target->spec.driver == pipeline::Driver::kSsh ||
                target->spec.driver == pipeline::Driver::kAnsible;
  std::vector<deploy::Host> hosts;
  if (remote) {
    auto text =
        deploy::renderTemplate(target->spec.hosts.empty() ? "{{ env.hosts }}" : target->spec.hosts,
                               target->values, "deploy hosts");
    auto parsedHosts =
        text.ok() ? deploy::parseHosts(*text) : Result<std::vector<deploy::Host>>(text.status());
    if (parsedHosts.ok())
      hosts = std::move(*parsedHosts);
    else
      out.problems.push_back(where + ": " + masker->mask(parsedHosts.status().message()));
  }
  fs::path cwd = workingDir(*target);
  for (const auto& m : monitors) {
    std::vector<const deploy::Host*> places;
    if (remote && namesHost(m)) {
      for (const auto& h : hosts) places.push_back(&h);
    } else {
      places.push_back(nullptr);
    }
    // A `run` probe runs on this machine, as the server. Local and command environments
    // already run their deploy steps here; an ssh or ansible environment's release never ran
    // code on the server, and its monitors do not start now.
    if (m.kind == pipeline::MonitorKind::kCommand && remote) {
      out.problems.push_back(where + ": monitor '" + m.name +
                             "': run probes are for local and command environments (they run "
                             "on the boucle server); probe the hosts with http or tcp");
      continue;
    }
    for (const deploy::Host* h : places) {
      deploy::TemplateValues v = target->values;
      if (h) {
        v["host.name"] = h->name;
        v["host.address"] = h->address;
      }
      std::string what = "monitor '" + m.name + "'";
      auto rendered = deploy::renderTemplate(m.target, v, what);
      auto query = deploy::renderTemplate(m.query, v, what + "'s query");
      if (!rendered.ok() || !query.ok()) {
        auto st = rendered.ok() ? query.status() : rendered.status();
        out.problems.push_back(where + ": " + masker->mask(st.message()));
        continue;
      }
      Probe p;
      p.project = project;
      p.env = env;
      p.monitor = m.name;
      p.host = h ? h->name : "";
      p.release = release.version;
      p.deployId = deployId;
      p.spec = m;
      p.spec.target = std::move(*rendered);
      p.spec.query = std::move(*query);
      p.environ = target->environ;
      p.cwd = cwd;
      p.masker = masker;
      out.probes.push_back(std::move(p));
    }
  }
}

WatchPlan planProbes(store::Store& store, const auth::SecretBox* secrets, const fs::path& dataDir,
                     const fs::path& sharedDir) {
  WatchPlan out;
  auto projects = store.listProjects();
  if (!projects.ok()) {
    out.problems.push_back(projects.status().message());
    return out;
  }
  for (const auto& project : *projects) {
    auto policy = deploy::loadPolicy(store, project.name, scm::mirrorPath(sharedDir, project.name));
    if (!policy.ok()) continue;  // no environments: nothing deployed to watch
    for (const auto& env : policy->pipeline.environments) {
      planEnv(store, secrets, dataDir, project.name, env.name, out);
    }
  }
  return out;
}

}  // namespace boucle::monitor
