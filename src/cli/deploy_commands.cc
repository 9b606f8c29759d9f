// boucle env / secret / deploy / promote / approve / rollback / environments / audit.
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <iterator>
#include <memory>

#include "cli/client_api.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "core/duration.h"

namespace boucle::cli {

using nlohmann::json;

namespace {

std::string str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

void printDeploy(const json& d) {
  fmt::print("deploy {}: {} {} to {}  {}{}\n", d["id"].get<int64_t>(), str(d, "project"),
             str(d, "version"), str(d, "env"), str(d, "state"),
             str(d, "reason").empty() ? "" : " (" + str(d, "reason") + ")");
  if (!str(d, "forced").empty()) fmt::print("  forced: {}\n", str(d, "forced"));
  for (const auto& s : d["smoke"]) {
    fmt::print("  smoke {}: {} ({})\n", s["ok"].get<bool>() ? "ok" : "FAILED", str(s, "check"),
               str(s, "detail"));
  }
  if (!d.contains("verification") || !d["verification"].is_object()) return;
  const json& v = d["verification"];
  auto count = [](const json& j, const char* key) {
    return j.contains(key) && j[key].is_number() ? j[key].get<int64_t>() : 0;
  };
  fmt::print("  verification {} (watching {}){}\n", str(v, "state"),
             formatDuration(Millis(count(v, "for_ms"))),
             str(v, "failure").empty() ? "" : ": " + str(v, "failure"));
  if (!v.contains("probes") || !v["probes"].is_array()) return;
  for (const auto& p : v["probes"]) {
    bool failed = p.contains("failed") && p["failed"].is_boolean() && p["failed"].get<bool>();
    fmt::print("    {} {}{} ({}): {} passed, {} failed, {} no data\n", failed ? "FAILED" : "ok",
               str(p, "name"), str(p, "host").empty() ? "" : "@" + str(p, "host"), str(p, "source"),
               count(p, "passes"), count(p, "failures"), count(p, "no_data"));
  }
}

// Waits for the deploy to end, printing its log as it is written; the exit code says how it
// ended.
void followDeploy(const ClientArgs& a, int64_t id, int* exitCode) {
  auto e = endpointFrom(a.server, a.token);
  if (!e.ok()) return;
  auto st = httpStream(*e, "/api/deploys/" + std::to_string(id) + "/log?follow=1",
                       [](std::string_view piece) {
                         fmt::print("{}", piece);
                         return true;
                       });
  if (!st.ok()) fmt::print(stderr, "boucle: {}\n", st.status().message());
  auto d = call(a, "GET", "/api/deploys/" + std::to_string(id), nullptr, exitCode);
  if (!d) return;
  printDeploy(*d);
  *exitCode = str(*d, "state") == "succeeded" ? kExitOk : kExitFailed;
}

// After a deploy request: print it, and follow it unless it waits (or --no-wait).
void afterRequest(const ClientArgs& a, const std::optional<json>& d, bool wait, int* exitCode) {
  if (!d) return;
  if (a.json) return fmt::print("{}\n", d->dump(2));
  printDeploy(*d);
  if (wait && str(*d, "state") == "queued") followDeploy(a, (*d)["id"].get<int64_t>(), exitCode);
}

struct DeployOpts {
  ClientArgs client;
  std::string project, env, version, from, to, force;
  bool dryRun = false, noWait = false;
  int64_t id = 0;
};

}  // namespace

void addDeployCommands(CLI::App& app, int* exitCode) {
  // boucle env set|unset|show
  auto env = app.add_subcommand("env", "An environment's values (hosts, url, dir, …)");
  env->require_subcommand(1);
  auto set = env->add_subcommand("set", "Set values: boucle env set PROJECT ENV KEY=VALUE…");
  auto so = std::make_shared<DeployOpts>();
  auto pairs = std::make_shared<std::vector<std::string>>();
  set->add_option("project", so->project, "Project")->required();
  set->add_option("env", so->env, "Environment")->required();
  set->add_option("values", *pairs, "KEY=VALUE pairs")->required();
  addClientOptions(set, so->client);
  set->callback([=] {
    for (const auto& kv : *pairs) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        fmt::print(stderr, "boucle env set: '{}' is not KEY=VALUE\n", kv);
        *exitCode = kExitUsage;
        return;
      }
      auto r = call(so->client, "PUT",
                    "/api/projects/" + urlEncode(so->project) + "/environments/" +
                        urlEncode(so->env) + "/values/" + urlEncode(kv.substr(0, eq)),
                    json{{"value", kv.substr(eq + 1)}, {"secret", false}}, exitCode);
      if (!r) return;
      if (!so->client.json) fmt::print("{} {}: {} set\n", so->project, so->env, kv.substr(0, eq));
    }
  });
  auto unset = env->add_subcommand("unset", "Remove a value: boucle env unset PROJECT ENV KEY");
  auto uo = std::make_shared<DeployOpts>();
  auto key = std::make_shared<std::string>();
  unset->add_option("project", uo->project, "Project")->required();
  unset->add_option("env", uo->env, "Environment")->required();
  unset->add_option("key", *key, "Key")->required();
  addClientOptions(unset, uo->client);
  unset->callback([=] {
    call(uo->client, "DELETE",
         "/api/projects/" + urlEncode(uo->project) + "/environments/" + urlEncode(uo->env) +
             "/values/" + urlEncode(*key),
         nullptr, exitCode);
  });

  // boucle secret set PROJECT ENV KEY (value on stdin)
  auto secret = app.add_subcommand("secret", "An environment's secrets (encrypted, never shown)");
  secret->require_subcommand(1);
  auto sset = secret->add_subcommand(
      "set", "Set a secret, read from standard input: boucle secret set PROJECT ENV KEY");
  auto sso = std::make_shared<DeployOpts>();
  auto skey = std::make_shared<std::string>();
  sset->add_option("project", sso->project, "Project")->required();
  sset->add_option("env", sso->env, "Environment")->required();
  sset->add_option("key", *skey, "Key")->required();
  addClientOptions(sset, sso->client);
  sset->callback([=] {
    auto read = readSecretInput("-", "secret");
    if (!read.ok()) {
      fmt::print(stderr, "boucle secret set: {}\n", read.status().message());
      *exitCode = kExitUsage;
      return;
    }
    std::string value = std::move(read).value();
    auto r = call(sso->client, "PUT",
                  "/api/projects/" + urlEncode(sso->project) + "/environments/" +
                      urlEncode(sso->env) + "/values/" + urlEncode(*skey),
                  json{{"value", value}, {"secret", true}}, exitCode);
    std::fill(value.begin(), value.end(), '\0');
    if (r && !sso->client.json) fmt::print("{} {}: secret {} set\n", sso->project, sso->env, *skey);
  });

  // boucle secret build PROJECT [KEY] [--remove]: the secrets every job of the project gets
  auto sbuild = secret->add_subcommand(
      "build",
      "A build secret, read from standard input and given to every job of the project's runs: "
      "boucle secret build PROJECT KEY; without KEY, lists their names");
  auto sbo = std::make_shared<DeployOpts>();
  auto sbkey = std::make_shared<std::string>();
  auto sbremove = std::make_shared<bool>(false);
  sbuild->add_option("project", sbo->project, "Project")->required();
  sbuild->add_option("key", *sbkey, "The variable jobs see it as");
  sbuild->add_flag("--remove", *sbremove, "Remove the build secret KEY");
  addClientOptions(sbuild, sbo->client);
  sbuild->callback([=] {
    std::string path = "/api/projects/" + urlEncode(sbo->project) + "/build-secrets";
    if (sbkey->empty()) {
      if (*sbremove) {
        fmt::print(stderr, "boucle secret build: --remove needs the KEY to remove\n");
        *exitCode = kExitUsage;
        return;
      }
      auto r = call(sbo->client, "GET", path, nullptr, exitCode);
      if (!r) return;
      if (sbo->client.json) return fmt::print("{}\n", r->dump(2));
      for (const auto& k : (*r)["secrets"]) fmt::print("{}\n", k.get<std::string>());
      return;
    }
    path += "/" + urlEncode(*sbkey);
    if (*sbremove) {
      auto r = call(sbo->client, "DELETE", path, nullptr, exitCode);
      if (r && !sbo->client.json) fmt::print("{}: build secret {} removed\n", sbo->project, *sbkey);
      return;
    }
    auto read = readSecretInput("-", "secret");
    if (!read.ok()) {
      fmt::print(stderr, "boucle secret build: {}\n", read.status().message());
      *exitCode = kExitUsage;
      return;
    }
    std::string value = std::move(read).value();
    auto r = call(sbo->client, "PUT", path, json{{"value", value}}, exitCode);
    std::fill(value.begin(), value.end(), '\0');
    if (r && !sbo->client.json) fmt::print("{}: build secret {} set\n", sbo->project, *sbkey);
  });

  // boucle environments PROJECT: what runs where
  auto envs = app.add_subcommand(
      "environments", "What runs where: each environment's release, since when, by whom");
  auto eo = std::make_shared<DeployOpts>();
  envs->add_option("project", eo->project, "Project")->required();
  addClientOptions(envs, eo->client);
  envs->callback([=] {
    auto r = call(eo->client, "GET", "/api/projects/" + urlEncode(eo->project) + "/environments",
                  nullptr, exitCode);
    if (!r) return;
    if (eo->client.json) return fmt::print("{}\n", r->dump(2));
    fmt::print("newest release: {}\n",
               (*r)["newest_release"].is_string() ? str(*r, "newest_release") : "none");
    for (const auto& e : (*r)["environments"]) {
      std::string now = "nothing yet";
      if (e["current"].is_object()) {
        const auto& c = e["current"];
        int behind = c["releases_behind"].get<int>();
        now = str(c, "version") + " (deploy " + std::to_string(c["deploy"].get<int64_t>()) +
              ", by " + str(c, "by") + ")" +
              (behind ? ", " + std::to_string(behind) + " release(s) behind" : ", newest");
      }
      std::string waiting;
      if (e.contains("last_deploy") && str(e["last_deploy"], "state") == "waiting") {
        waiting = "  [deploy " + std::to_string(e["last_deploy"]["id"].get<int64_t>()) + " of " +
                  str(e["last_deploy"], "version") + " waits for approval]";
      }
      fmt::print("{:<10} {}{}\n", str(e, "name"), now, waiting);
    }
  });

  // boucle incidents PROJECT, boucle incident open|resolve|note|show
  auto printIncident = [](const json& i) {
    std::string state = str(i, "state");
    fmt::print("#{:<5} {:<8} {:<9} {:<16} {}\n", i["id"].get<int64_t>(), str(i, "env"), state,
               localTime(i["opened_at_ms"]), str(i, "title"));
    std::string live = "nothing deployed";
    if (i["release"].is_string()) {
      live = str(i, "release");
      if (i["deploy_id"].is_number_integer())
        live += " (deploy " + std::to_string(i["deploy_id"].get<int64_t>()) + ")";
    }
    fmt::print("       live when it began: {}; opened by {}{}\n", live, str(i, "opened_by"),
               state == "resolved" ? ", resolved by " + str(i, "resolved_by") + " at " +
                                         localTime(i["resolved_at_ms"])
                                   : "");
  };
  auto incidents = app.add_subcommand(
      "incidents", "An environment's incidents, newest first: open or resolved, what was live");
  auto io = std::make_shared<DeployOpts>();
  incidents->add_option("project", io->project, "Project")->required();
  incidents->add_option("--env", io->env, "Only this environment");
  addClientOptions(incidents, io->client);
  incidents->callback([=] {
    auto r = call(io->client, "GET",
                  "/api/projects/" + urlEncode(io->project) + "/incidents" +
                      (io->env.empty() ? "" : "?env=" + urlEncode(io->env)),
                  nullptr, exitCode);
    if (!r) return;
    if (io->client.json) return fmt::print("{}\n", r->dump(2));
    if ((*r)["incidents"].empty()) fmt::print("no incidents\n");
    for (const auto& i : (*r)["incidents"]) printIncident(i);
  });

  // boucle monitors PROJECT: what each monitor of the deployed releases says
  auto monitors = app.add_subcommand(
      "monitors", "What each monitor says in each environment: up or down, latency, SLO budget");
  auto mo = std::make_shared<DeployOpts>();
  monitors->add_option("project", mo->project, "Project")->required();
  monitors->add_option("--env", mo->env, "Only this environment");
  addClientOptions(monitors, mo->client);
  monitors->callback([=] {
    auto r = call(mo->client, "GET",
                  "/api/projects/" + urlEncode(mo->project) + "/monitors" +
                      (mo->env.empty() ? "" : "?env=" + urlEncode(mo->env)),
                  nullptr, exitCode);
    if (!r) return;
    if (mo->client.json) return fmt::print("{}\n", r->dump(2));
    if ((*r)["monitors"].empty()) fmt::print("no monitors run (nothing deployed has any)\n");
    for (const auto& m : (*r)["monitors"]) {
      std::string name = str(m, "monitor") + (str(m, "host").empty() ? "" : " @" + str(m, "host"));
      std::string latency =
          m["latency_ms"].is_number() ? std::to_string(m["latency_ms"].get<int64_t>()) + " ms" : "";
      fmt::print("{:<8} {:<8} {:<8} {:>8}  {}\n", str(m, "env"), str(m, "state"), str(m, "release"),
                 latency, name);
      if (!str(m, "detail").empty() && str(m, "state") != "up")
        fmt::print("{:>36}{}: {}\n", "", m["verdict"].is_string() ? str(m, "verdict") : "pending",
                   str(m, "detail"));
      if (m["slo"].is_object() && m["slo"]["budget_left"].is_number()) {
        fmt::print("{:>36}SLO budget left {:.1f}%{}\n", "",
                   100 * m["slo"]["budget_left"].get<double>(),
                   str(m["slo"], "burn") == "none" ? "" : ", burn alert: " + str(m["slo"], "burn"));
      }
      if (m["incident_id"].is_number_integer())
        fmt::print("{:>36}incident #{}\n", "", m["incident_id"].get<int64_t>());
    }
    for (const auto& why : (*r)["problems"]) {
      fmt::print(stderr, "not watched: {}\n", why.get<std::string>());
    }
  });

  auto incident = app.add_subcommand("incident", "Open, annotate and resolve an incident by hand");
  incident->require_subcommand(1);
  auto iopen = incident->add_subcommand(
      "open", "Open an incident: boucle incident open PROJECT ENV \"what is wrong\"");
  auto ioo = std::make_shared<DeployOpts>();
  auto text = std::make_shared<std::string>();
  iopen->add_option("project", ioo->project, "Project")->required();
  iopen->add_option("env", ioo->env, "Environment")->required();
  iopen->add_option("text", *text, "What is wrong")->required();
  addClientOptions(iopen, ioo->client);
  iopen->callback([=] {
    auto r = call(ioo->client, "POST", "/api/projects/" + urlEncode(ioo->project) + "/incidents",
                  json{{"env", ioo->env}, {"text", *text}}, exitCode);
    if (!r) return;
    if (ioo->client.json) return fmt::print("{}\n", r->dump(2));
    printIncident(*r);
  });
  // resolve, note and show take an incident's id.
  auto withId = [&](const char* name, const char* help, const char* method, const char* path,
                    bool takesText, const char* textHelp) {
    auto cmd = incident->add_subcommand(name, help);
    auto o = std::make_shared<DeployOpts>();
    auto t = std::make_shared<std::string>();
    cmd->add_option("id", o->id, "Incident id")->required();
    if (takesText) cmd->add_option("text", *t, textHelp)->required(std::string(name) == "note");
    addClientOptions(cmd, o->client);
    std::string m = method, suffix = path;
    cmd->callback([=] {
      json body = m == "GET" ? json(nullptr) : json{{"text", *t}};
      auto r =
          call(o->client, m, "/api/incidents/" + std::to_string(o->id) + suffix, body, exitCode);
      if (!r) return;
      if (o->client.json) return fmt::print("{}\n", r->dump(2));
      printIncident(*r);
      for (const auto& e : (*r)["timeline"]) {
        fmt::print("       {}  {:<9} {}: {}\n", localTime(e["at_ms"], "%m-%d %H:%M:%S"),
                   str(e, "kind"), str(e, "actor"), str(e, "text"));
      }
    });
  };
  withId("resolve", "Resolve an incident: boucle incident resolve ID [\"what fixed it\"]", "POST",
         "/resolve", true, "What fixed it");
  withId("note", "Add a note to an incident's timeline: boucle incident note ID \"text\"", "POST",
         "/notes", true, "The note");
  withId("show", "An incident and its timeline", "GET", "", false, "");

  // boucle dora PROJECT [--env prod] [--since 30d]: the four keys (docs/dora.md)
  auto dora = app.add_subcommand(
      "dora",
      "DORA's four keys for an environment: how often, how fast, how often it fails, "
      "how fast it recovers");
  auto dso = std::make_shared<DeployOpts>();
  auto since = std::make_shared<std::string>("30d");
  dso->env = "prod";
  dora->add_option("project", dso->project, "Project")->required();
  dora->add_option("--env", dso->env, "Environment")->capture_default_str();
  dora->add_option("--since", *since, "Period, back from now (30d, 12w, 24h)")
      ->capture_default_str();
  addClientOptions(dora, dso->client);
  dora->callback([=] {
    auto r = call(dso->client, "GET",
                  "/api/projects/" + urlEncode(dso->project) + "/dora?env=" + urlEncode(dso->env) +
                      "&since=" + urlEncode(*since),
                  nullptr, exitCode);
    if (!r) return;
    if (dso->client.json) return fmt::print("{}\n", r->dump(2));
    auto ms = [](const json& v) {
      return v.is_number() ? formatDuration(Millis(v.get<int64_t>())) : std::string("-");
    };
    auto band = [](const json& v) { return v.is_string() ? v.get<std::string>() : "-"; };
    const json& f = (*r)["deployment_frequency"];
    const json& l = (*r)["lead_time"];
    const json& c = (*r)["change_failure_rate"];
    const json& t = (*r)["recovery_time"];
    const json& w = (*r)["rework_rate"];
    fmt::print("{} in {}, last {}\n", dso->project, dso->env, *since);
    fmt::print("  deployment frequency  {:<8} {} deploys, {:.1f} a week ({})\n", band(f["band"]),
               f["deploys"].get<int>(), f["per_week"].get<double>(), str(f, "reading"));
    fmt::print("  lead time             {:<8} median {}, p90 {} (from the first build: {})\n",
               band(l["band"]), ms(l["median_ms"]), ms(l["p90_ms"]),
               ms(l["from_first_build"]["median_ms"]));
    fmt::print("  change failure rate   {:<8} {}\n", band(c["band"]),
               c["value"].is_number()
                   ? fmt::format("{:.0f}% ({} of {} changes)", c["value"].get<double>() * 100,
                                 c["failures"].get<int>(), c["changes"].get<int>())
                   : std::string("no changes"));
    fmt::print("  recovery time         {:<8} median {}\n", band(t["band"]), ms(t["median_ms"]));
    fmt::print("  rework rate           {:<8} {}\n", "",
               w["value"].is_number()
                   ? fmt::format("{:.0f}% ({} of {} deploys)", w["value"].get<double>() * 100,
                                 w["rework"].get<int>(), w["deploys"].get<int>())
                   : std::string("no deploys"));
    for (const auto& row : c["rows"]) {
      fmt::print("    failed: deploy {} of {}: {}\n", row["deploy_id"].get<int64_t>(),
                 str(row, "version"), str(row, "cause"));
    }
  });

  auto deploy = app.add_subcommand(
      "deploy", "Deploy a release to an environment: boucle deploy PROJECT VERSION --to ENV");
  auto dopt = std::make_shared<DeployOpts>();
  deploy->add_option("project", dopt->project, "Project")->required();
  deploy->add_option("version", dopt->version, "Release version")->required();
  deploy->add_option("--to", dopt->env, "Environment")->required();
  deploy->add_flag("--dry-run", dopt->dryRun, "Show what would be done, touching nothing");
  deploy->add_flag("--no-wait", dopt->noWait, "Do not follow the deploy's log");
  deploy->add_option("--force", dopt->force,
                     "Go back past an irreversible migration anyway; the reason is recorded");
  addClientOptions(deploy, dopt->client);
  deploy->callback([=] {
    json body{{"version", dopt->version}, {"env", dopt->env}, {"dry_run", dopt->dryRun}};
    if (!dopt->force.empty()) body["force"] = dopt->force;
    auto r = call(dopt->client, "POST", "/api/projects/" + urlEncode(dopt->project) + "/deploys",
                  body, exitCode);
    afterRequest(dopt->client, r, !dopt->noWait, exitCode);
  });

  auto promote = app.add_subcommand(
      "promote", "Deploy the release an environment runs to the next: --from qa --to preprod");
  auto po = std::make_shared<DeployOpts>();
  promote->add_option("project", po->project, "Project")->required();
  promote->add_option("--from", po->from, "Environment the release comes from")->required();
  promote->add_option("--to", po->to, "Environment it goes to")->required();
  promote->add_flag("--no-wait", po->noWait, "Do not follow the deploy's log");
  addClientOptions(promote, po->client);
  promote->callback([=] {
    auto r = call(po->client, "POST", "/api/projects/" + urlEncode(po->project) + "/promote",
                  json{{"from", po->from}, {"to", po->to}}, exitCode);
    afterRequest(po->client, r, !po->noWait, exitCode);
  });

  auto rollback = app.add_subcommand(
      "rollback", "Put an environment back on an earlier release: boucle rollback PROJECT ENV");
  auto ro = std::make_shared<DeployOpts>();
  rollback->add_option("project", ro->project, "Project")->required();
  rollback->add_option("env", ro->env, "Environment")->required();
  rollback->add_option("--to", ro->version,
                       "Version (default: the release it ran before its current one)");
  rollback->add_flag("--no-wait", ro->noWait, "Do not follow the deploy's log");
  rollback->add_option("--force", ro->force,
                       "Go back past an irreversible migration anyway, saying why (recorded "
                       "with the deploy and in the audit log)");
  addClientOptions(rollback, ro->client);
  rollback->callback([=] {
    json body = ro->version.empty() ? json::object() : json{{"version", ro->version}};
    if (!ro->force.empty()) body["force"] = ro->force;
    auto r = call(ro->client, "POST",
                  "/api/projects/" + urlEncode(ro->project) + "/environments/" +
                      urlEncode(ro->env) + "/rollback",
                  body, exitCode);
    afterRequest(ro->client, r, !ro->noWait, exitCode);
  });

  auto approve = app.add_subcommand("approve", "Approve a deploy that waits: boucle approve ID");
  auto ao = std::make_shared<DeployOpts>();
  approve->add_option("id", ao->id, "Deploy id")->required();
  approve->add_flag("--no-wait", ao->noWait, "Do not follow the deploy's log");
  addClientOptions(approve, ao->client);
  approve->callback([=] {
    auto r = call(ao->client, "POST", "/api/deploys/" + std::to_string(ao->id) + "/approve",
                  nullptr, exitCode);
    afterRequest(ao->client, r, !ao->noWait, exitCode);
  });

  auto reject =
      app.add_subcommand("reject",
                         "Reject a deploy that waits for an approval, or withdraw a queued one: "
                         "boucle reject ID");
  auto jo = std::make_shared<DeployOpts>();
  reject->add_option("id", jo->id, "Deploy id")->required();
  addClientOptions(reject, jo->client);
  reject->callback([=] {
    auto r = call(jo->client, "POST", "/api/deploys/" + std::to_string(jo->id) + "/cancel", nullptr,
                  exitCode);
    if (!r) return;
    if (jo->client.json) return fmt::print("{}\n", r->dump(2));
    printDeploy(*r);
  });

  auto deploys = app.add_subcommand("deploys", "A project's deploys, newest first");
  auto lo = std::make_shared<DeployOpts>();
  deploys->add_option("project", lo->project, "Project")->required();
  deploys->add_option("--env", lo->env, "Only this environment");
  addClientOptions(deploys, lo->client);
  deploys->callback([=] {
    std::string target = "/api/projects/" + urlEncode(lo->project) + "/deploys";
    if (!lo->env.empty()) target += "?env=" + urlEncode(lo->env);
    auto r = call(lo->client, "GET", target, nullptr, exitCode);
    if (!r) return;
    if (lo->client.json) return fmt::print("{}\n", r->dump(2));
    for (const auto& d : (*r)["deploys"]) printDeploy(d);
  });

  auto audit = app.add_subcommand("audit", "Who did what, when (releases, deploys, approvals)");
  auto auo = std::make_shared<DeployOpts>();
  audit->add_option("project", auo->project, "Only this project");
  addClientOptions(audit, auo->client);
  audit->callback([=] {
    std::string target = "/api/audit";
    if (!auo->project.empty()) target += "?project=" + urlEncode(auo->project);
    auto r = call(auo->client, "GET", target, nullptr, exitCode);
    if (!r) return;
    if (auo->client.json) return fmt::print("{}\n", r->dump(2));
    for (const auto& e : (*r)["entries"]) {
      fmt::print("{}  {:<20} {:<18} {} {}  {}\n", localTime(e["at_ms"], "%Y-%m-%d %H:%M:%S"),
                 str(e, "actor"), str(e, "action"), str(e, "project"), str(e, "target"),
                 str(e, "detail"));
    }
  });
}

}  // namespace boucle::cli
