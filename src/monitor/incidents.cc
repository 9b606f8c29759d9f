#include "monitor/incidents.h"

#include <nlohmann/json.hpp>

#include "deploy/deployer.h"

namespace boucle::monitor {

using nlohmann::json;

namespace {

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Alert texts end up in the database and on pages: kept to a sane length.
std::string bounded(std::string s, size_t n = 500) {
  if (s.size() > n) {
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s.resize(n);
  }
  return s;
}

}  // namespace

Result<store::Incident> openIncident(store::Store& store, const OpenRequest& r) {
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

Result<AlertOutcome> takeAlerts(store::Store& store, const std::string& project,
                                const std::string& payload, const std::string& actor,
                                int64_t nowMs) {
  json body = json::parse(payload, nullptr, false);
  if (!body.is_object() || !body.contains("alerts") || !body["alerts"].is_array())
    return Status::Invalid("expected Alertmanager's webhook payload: {\"alerts\": [...]}");
  AlertOutcome out;
  for (const auto& a : body["alerts"]) {
    if (!a.is_object()) continue;
    json labels = a.value("labels", json::object());
    json annotations = a.value("annotations", json::object());
    if (!labels.is_object()) labels = json::object();
    if (!annotations.is_object()) annotations = json::object();
    std::string name = bounded(str(labels, "alertname"), 200);
    std::string fingerprint = bounded(str(a, "fingerprint"), 200);
    if (fingerprint.empty()) fingerprint = name;
    fingerprint = "alertmanager:" + fingerprint;
    std::string status = str(a, "status");
    if (status == "resolved") {
      auto open = store.openIncidentWith(project, fingerprint);
      if (!open.ok()) return open.status();
      if (!*open) {
        out.ignored.push_back(name + ": resolved, and no incident of it is open");
        continue;
      }
      if (auto st = store.resolveIncident((*open)->id, actor, nowMs, "resolved by Alertmanager");
          !st.ok())
        return st;
      out.resolved.push_back((*open)->id);
      continue;
    }
    if (status != "firing") {
      out.ignored.push_back(name + ": status '" + bounded(status, 20) + "'");
      continue;
    }
    std::string env = str(labels, "env");
    if (env.empty()) env = str(labels, "environment");
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
    auto opened = openIncident(store, {project, bounded(env, 100), "alertmanager", name,
                                       fingerprint, bounded(title), actor, nowMs});
    if (!opened.ok()) return opened.status();
    out.opened.push_back(opened->id);
  }
  return out;
}

}  // namespace boucle::monitor
