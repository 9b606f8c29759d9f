#include "monitor/incidents.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "core/encoding.h"
#include "core/names.h"
#include "deploy/deployer.h"
#include "deploy/policy.h"

namespace boucle::monitor {

using nlohmann::json;

namespace {

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Alert texts end up in the database and on pages: kept to a sane length.
std::string bounded(std::string s, size_t n = 500) {
  return cutUtf8(std::move(s), n);
}

Result<store::Incident> openUnder(store::Store& store, const deploy::Policy& policy,
                                  const OpenRequest& r) {
  if (!validName(r.env) || !policy.env(r.env)) {
    return Status::NotFound("no environment '" + r.env + "' in " + r.project + "'s policy (" +
                            policy.envNames() + ")");
  }
  auto current = deploy::currentRelease(store, r.project, r.env);
  if (!current.ok()) return current.status();
  store::Incident i;
  i.project = r.project;
  i.env = r.env;
  i.source = r.source;
  i.monitor = r.monitor;
  i.fingerprint = r.fingerprint;
  i.title = r.title;
  i.release = current->version;
  if (current->deploy) i.deployId = current->deploy->id;
  i.openedBy = r.actor;
  i.openedAt = r.atMs;
  return store.openIncident(i);
}

}  // namespace

Result<store::Incident> openIncident(store::Store& store, const std::filesystem::path& mirror,
                                     const OpenRequest& r) {
  auto policy = deploy::loadPolicy(store, r.project, mirror);
  if (!policy.ok()) return policy.status();
  return openUnder(store, *policy, r);
}

Result<AlertOutcome> takeAlerts(store::Store& store, const std::filesystem::path& mirror,
                                const std::string& project, const std::string& payload,
                                const std::string& actor, int64_t nowMs) {
  json body = json::parse(payload, nullptr, false);
  if (!body.is_object() || !body.contains("alerts") || !body["alerts"].is_array())
    return Status::Invalid("expected Alertmanager's webhook payload: {\"alerts\": [...]}");
  AlertOutcome out;
  // Read once for the delivery (from the mirror's objects), when a firing alert needs it.
  std::optional<Result<deploy::Policy>> policy;
  size_t taken = 0;
  for (const auto& a : body["alerts"]) {
    if (!a.is_object()) continue;
    if (++taken > kMaxAlertsPerDelivery) {
      out.ignored.push_back(std::to_string(body["alerts"].size() - kMaxAlertsPerDelivery) +
                            " more alert(s): at most " + std::to_string(kMaxAlertsPerDelivery) +
                            " are taken from one delivery");
      break;
    }
    // value() would throw on a label set of another type: looked up by hand instead.
    auto objectAt = [&](const char* key) {
      auto it = a.find(key);
      return it != a.end() && it->is_object() ? *it : json::object();
    };
    json labels = objectAt("labels");
    json annotations = objectAt("annotations");
    std::string name = bounded(str(labels, "alertname"), 200);
    std::string env = str(labels, "env");
    if (env.empty()) env = str(labels, "environment");
    env = bounded(env, 100);
    // Without Alertmanager's fingerprint, the alert's name in its environment names it.
    std::string fingerprint = bounded(str(a, "fingerprint"), 200);
    if (fingerprint.empty()) fingerprint = name + "@" + env;
    fingerprint = "alertmanager:" + fingerprint;
    std::string status = str(a, "status");
    if (status == "resolved") {
      auto open = store.openIncidentWith(project, fingerprint);
      if (!open.ok()) return open.status();
      if (!*open) {
        out.ignored.push_back(name + ": resolved, and no incident of it is open");
        continue;
      }
      auto st = store.resolveIncident((*open)->id, actor, nowMs, "resolved by Alertmanager");
      if (st.code() == Code::kConflict) {  // resolved meanwhile, by a person say
        out.ignored.push_back(name + ": " + st.message());
        continue;
      }
      if (!st.ok()) return st;
      out.resolved.push_back((*open)->id);
      continue;
    }
    if (status != "firing") {
      out.ignored.push_back(name + ": status '" + bounded(status, 20) + "'");
      continue;
    }
    if (env.empty()) {
      out.ignored.push_back(name + ": no env (or environment) label names its environment");
      continue;
    }
    auto open = store.openIncidentWith(project, fingerprint);
    if (!open.ok()) return open.status();
    if (*open) {
      out.ignored.push_back(name + ": incident " + std::to_string((*open)->id) + " is open");
      continue;
    }
    std::string title = str(annotations, "summary");
    if (title.empty()) title = str(annotations, "description");
    if (title.empty()) title = name;
    if (!policy) policy = deploy::loadPolicy(store, project, mirror);
    if (!policy->ok()) return policy->status();
    auto opened =
        openUnder(store, **policy,
                  {project, env, "alertmanager", name, fingerprint, bounded(title), actor, nowMs});
    if (opened.ok()) {
      out.opened.push_back(opened->id);
    } else if (opened.status().code() == Code::kNotFound) {
      out.ignored.push_back(name + ": " + opened.status().message());
    } else if (auto now = store.openIncidentWith(project, fingerprint); now.ok() && *now) {
      // Another delivery of the same alert opened it at the same moment (the unique index).
      out.ignored.push_back(name + ": incident " + std::to_string((*now)->id) + " is open");
    } else {
      return opened.status();
    }
  }
  return out;
}

Status noteDeploy(store::Store& store, const store::Deploy& d) {
  if (!store::isFinished(d.state) || d.dryRun) return Status::Ok();
  auto open = store.listOpenIncidents(d.project, d.env);
  if (!open.ok()) return open.status();
  std::string text = (d.rollback ? "rollback " : "deploy ") + std::to_string(d.id) + ": " +
                     d.version + " " + std::string(store::toString(d.state)) +
                     (d.fromVersion.empty() ? "" : ", after " + d.fromVersion);
  if (!d.reason.empty()) text += " (" + bounded(d.reason, 300) + ")";
  int64_t at = d.finishedAt.value_or(d.requestedAt);
  for (const auto& i : *open) {
    if (i.openedAt > at) continue;
    auto st = store.addIncidentEvent(
        {i.id, at, d.rollback || d.state == store::DeployState::kRolledBack ? "rollback" : "deploy",
         d.requestedBy, text});
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace boucle::monitor
