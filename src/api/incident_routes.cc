// Incidents: listed per project, opened, annotated and resolved by people, and raised by
// Prometheus Alertmanager (POST /hooks/alertmanager/PROJECT with the project's webhook secret
// as its bearer credential, as Alertmanager's `http_config.authorization` sends it: a secret
// that reaches this hook of this project and nothing else).
#include <nlohmann/json.hpp>

#include "api/route_helpers.h"
#include "auth/tokens.h"
#include "core/clock.h"
#include "monitor/incidents.h"
#include "scm/git_repo.h"

namespace boucle::api {

using nlohmann::json;

namespace {

json incidentJson(const store::Incident& i) {
  return {{"id", i.id},
          {"project", i.project},
          {"env", i.env},
          {"state", i.state},
          {"source", i.source},
          {"monitor", i.monitor.empty() ? json() : json(i.monitor)},
          {"title", i.title},
          {"release", i.release.empty() ? json() : json(i.release)},
          {"deploy_id", i.deployId ? json(*i.deployId) : json()},
          {"opened_by", i.openedBy},
          {"opened_at_ms", i.openedAt},
          {"resolved_by", i.resolvedBy.empty() ? json() : json(i.resolvedBy)},
          {"resolved_at_ms", i.resolvedAt ? json(*i.resolvedAt) : json()}};
}

// A person's text: one line or a few, not a document.
std::optional<std::string> textOf(const Request& req, bool required) {
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return std::nullopt;
  auto it = body.find("text");
  if (it == body.end()) return required ? std::nullopt : std::optional<std::string>("");
  if (!it->is_string() || it->get<std::string>().size() > 2000) return std::nullopt;
  if (required && it->get<std::string>().empty()) return std::nullopt;
  return it->get<std::string>();
}

Response incidentWithTimeline(const ApiContext& c, int64_t id) {
  auto i = c.store->getIncident(id);
  if (!i.ok()) return fromStatus(i.status());
  auto events = c.store->incidentEvents(id);
  if (!events.ok()) return fromStatus(events.status());
  json timeline = json::array();
  for (const auto& e : *events) {
    timeline.push_back({{"at_ms", e.at}, {"kind", e.kind}, {"actor", e.actor}, {"text", e.text}});
  }
  json out = incidentJson(*i);
  out["timeline"] = timeline;
  return ok(200, out);
}

void tell(const ApiContext& c, int64_t id, const std::string& event) {
  if (!c.onIncident) return;
  auto i = c.store->getIncident(id);
  if (i.ok()) c.onIncident(*i, event);
}

}  // namespace

void addIncidentRoutes(Router& r, const ApiContext& c) {
  r.add("GET", "/api/projects/{name}/incidents", Access::kRead,
        [&c](const Request& req, const Params& p) {
          auto project = c.store->getProject(p.at("name"));
          if (!project.ok()) return fromStatus(project.status());
          std::string env = req.query.count("env") ? req.query.at("env") : "";
          auto list = c.store->listIncidents(project->name, env, 200);
          if (!list.ok()) return fromStatus(list.status());
          json out = json::array();
          for (const auto& i : *list) out.push_back(incidentJson(i));
          return ok(200, {{"incidents", out}});
        });
  r.add("POST", "/api/projects/{name}/incidents", Access::kChange,
        [&c](const Request& req, const Params& p) {
          auto project = c.store->getProject(p.at("name"));
          if (!project.ok()) return fromStatus(project.status());
          json body = json::parse(req.body, nullptr, false);
          auto text = textOf(req, true);
          std::string env =
              body.is_object()
                  ? body.value("env", json()).is_string() ? body["env"].get<std::string>() : ""
                  : "";
          if (env.empty() || env.size() > 100 || !text)
            return errorResponse(
                400, "the body must be {\"env\": \"prod\", \"text\": \"what is wrong\"}");
          auto opened = monitor::openIncident(
              *c.store, scm::mirrorPath(c.shared(), project->name),
              {project->name, env, "manual", "", "", *text, req.actor, nowMs()});
          if (!opened.ok()) return fromStatus(opened.status());
          if (auto failed = audited(*c.store, req, "incident.open", project->name,
                                    std::to_string(opened->id), env))
            return *failed;
          tell(c, opened->id, "incident");
          return ok(201, incidentJson(*opened));
        });
  r.add("GET", "/api/incidents/{id}", Access::kRead, [&c](const Request&, const Params& p) {
    auto id = toId(p.at("id"));
    if (!id) return errorResponse(400, "not an incident id");
    return incidentWithTimeline(c, *id);
  });
  r.add("POST", "/api/incidents/{id}/resolve", Access::kChange,
        [&c](const Request& req, const Params& p) {
          auto id = toId(p.at("id"));
          if (!id) return errorResponse(400, "not an incident id");
          auto text = textOf(req, false);
          if (!text) return errorResponse(400, "the body may be {\"text\": \"what fixed it\"}");
          auto i = c.store->getIncident(*id);
          if (!i.ok()) return fromStatus(i.status());
          if (auto st = c.store->resolveIncident(*id, req.actor, nowMs(), *text); !st.ok())
            return fromStatus(st);
          if (auto failed = audited(*c.store, req, "incident.resolve", i->project,
                                    std::to_string(*id), i->env))
            return *failed;
          tell(c, *id, "resolved");
          return incidentWithTimeline(c, *id);
        });
  r.add(
      "POST", "/api/incidents/{id}/notes", Access::kChange,
      [&c](const Request& req, const Params& p) {
        auto id = toId(p.at("id"));
        if (!id) return errorResponse(400, "not an incident id");
        auto text = textOf(req, true);
        if (!text) return errorResponse(400, "the body must be {\"text\": \"a note\"}");
        if (auto i = c.store->getIncident(*id); !i.ok()) return fromStatus(i.status());
        if (auto st = c.store->addIncidentEvent({*id, nowMs(), "note", req.actor, *text}); !st.ok())
          return fromStatus(st);
        return incidentWithTimeline(c, *id);
      });
  r.add("POST", "/hooks/alertmanager/{name}", Access::kPublic,
        [&c](const Request& req, const Params& p) {
          auto project = c.store->getProject(p.at("name"));
          if (!project.ok() && project.status().code() != Code::kNotFound)
            return fromStatus(project.status());
          // As the forges' hooks: an unknown project answers as a wrong secret does.
          static const std::string nobodys = auth::randomHex(32);
          const std::string& secret =
              project.ok() && !project->webhookSecret.empty() ? project->webhookSecret : nobodys;
          if (!auth::constantTimeEquals(req.header("authorization"), "Bearer " + secret) ||
              !project.ok())
            return errorResponse(401, "the project's webhook secret is the bearer credential");
          auto outcome = monitor::takeAlerts(*c.store, scm::mirrorPath(c.shared(), project->name),
                                             project->name, req.body, "alertmanager", nowMs());
          if (!outcome.ok()) return fromStatus(outcome.status());
          for (int64_t id : outcome->opened) tell(c, id, "incident");
          for (int64_t id : outcome->resolved) tell(c, id, "resolved");
          return ok(200, {{"opened", outcome->opened},
                          {"resolved", outcome->resolved},
                          {"ignored", outcome->ignored}});
        });
}

}  // namespace boucle::api
