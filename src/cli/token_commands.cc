// boucle token add/list/revoke: API tokens for people and scripts; boucle admin-token: a new
// admin token for an operator with shell access to the server's data folder.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>

#include "auth/initial_token.h"
#include "cli/client_api.h"
#include "cli/commands.h"
#include "cli/store_spec.h"
#include "core/clock.h"
#include "store/store.h"

namespace boucle::cli {

namespace {

std::string rolesText(const nlohmann::json& roles) {
  std::string list;
  for (const auto& role : roles) list += (list.empty() ? "" : ", ") + role.get<std::string>();
  return list;
}

void addTokenAdd(CLI::App* token, int* exitCode) {
  auto add = token->add_subcommand(
      "add", "Make a new API token, printed once (only its hash is kept): boucle token add NAME");
  auto args = std::make_shared<ClientArgs>();
  auto name = std::make_shared<std::string>();
  auto roles = std::make_shared<std::vector<std::string>>();
  auto expires = std::make_shared<std::string>();
  add->add_option("name", *name, "Who or what uses it (unique; shown in the audit log)")
      ->required();
  add->add_option("--role", *roles,
                  "A role, repeatable: viewer (reads only; the default), metrics (GET /metrics "
                  "only, for Prometheus), admin (everything), agent (a remote agent's: claims "
                  "and reports on jobs, nothing else), or "
                  "any name the pipeline files' deployers/approval lists use (developer, ops…)");
  add->add_option("--expires", *expires, "Refused after this long, e.g. 90d (default: never)");
  auto labels = std::make_shared<std::vector<std::string>>();
  auto projects = std::make_shared<std::vector<std::string>>();
  add->add_option("--labels", *labels,
                  "An agent token: the only labels its agent may claim jobs with "
                  "(comma-separated; default: any it says it has)")
      ->delimiter(',');
  add->add_option("--projects", *projects,
                  "An agent token: the only projects whose jobs it may claim (comma-separated; "
                  "default: any)")
      ->delimiter(',');
  addClientOptions(add, *args);
  add->callback([=] {
    nlohmann::json body{{"name", *name}};
    if (!roles->empty()) body["roles"] = *roles;
    if (!expires->empty()) body["expires"] = *expires;
    if (!labels->empty()) body["agent_labels"] = *labels;
    if (!projects->empty()) body["agent_projects"] = *projects;
    auto r = call(*args, "POST", "/api/tokens", body, exitCode);
    if (!r) return;
    if (args->json) return fmt::print("{}\n", r->dump(2));
    fmt::print("{}\n", (*r)["token"].get<std::string>());
    fmt::print(
        stderr, "token '{}' ({}) made; it is shown only this once{}\n", *name,
        rolesText((*r)["roles"]),
        (*r)["expires_at_ms"].is_null() ? "" : "; it expires " + localTime((*r)["expires_at_ms"]));
  });
}

void addTokenList(CLI::App* token, int* exitCode) {
  auto list = token->add_subcommand("list", "List API tokens: names, roles, dates (never tokens)");
  auto args = std::make_shared<ClientArgs>();
  addClientOptions(list, *args);
  list->callback([=] {
    auto r = call(*args, "GET", "/api/tokens", nullptr, exitCode);
    if (!r) return;
    if (args->json) return fmt::print("{}\n", r->dump(2));
    fmt::print("{:<24} {:<20} {:<16} {:<16} {}\n", "NAME", "ROLES", "CREATED", "LAST USED",
               "EXPIRES");
    for (const auto& t : (*r)["tokens"]) {
      std::string used = localTime(t["last_used_at_ms"]), expires = localTime(t["expires_at_ms"]);
      fmt::print("{:<24} {:<20} {:<16} {:<16} {}\n", t["name"].get<std::string>(),
                 rolesText(t["roles"]), localTime(t["created_at_ms"]), used.empty() ? "-" : used,
                 expires.empty() ? "never" : expires);
    }
  });
}

void addTokenRevoke(CLI::App* token, int* exitCode) {
  auto revoke = token->add_subcommand("revoke", "Revoke a token: refused from its next request");
  auto args = std::make_shared<ClientArgs>();
  auto name = std::make_shared<std::string>();
  revoke->add_option("name", *name, "The token's name")->required();
  addClientOptions(revoke, *args);
  revoke->callback([=] {
    auto r = call(*args, "DELETE", "/api/tokens/" + urlEncode(*name), nullptr, exitCode);
    if (r && args->json) fmt::print("{}\n", r->dump(2));
    if (r && !args->json) fmt::print("token '{}' revoked\n", *name);
  });
}

// Opens the database itself, as only someone with access to the data folder can: the way back
// in when every admin token is lost (GitLab's `gitlab-rake`, Jenkins' initialAdminPassword).
void addAdminToken(CLI::App& app, int* exitCode) {
  auto cmd = app.add_subcommand(
      "admin-token",
      "Make a new admin token directly in the server's data folder (needs shell access to it)");
  auto data = std::make_shared<std::string>("boucle-data");
  auto name = std::make_shared<std::string>();
  auto dbSpec = std::make_shared<std::string>();
  cmd->add_option("--data", *data, "The server's data directory")->capture_default_str();
  cmd->add_option(
      "--db", *dbSpec,
      "The server's database, when not the one its last start recorded in DATA/database");
  cmd->add_option("--name", *name, "The token's name (default: admin-YYYYMMDD-HHMMSS)");
  cmd->callback([=] {
    std::filesystem::path db = std::filesystem::path(*data) / "boucle.db";
    std::string spec = storeSpecFor(*data, *dbSpec);
    if (spec == "sqlite:" + db.string() && !std::filesystem::exists(db)) {
      fmt::print(stderr, "boucle admin-token: no {} (is --data the server's data folder?)\n",
                 db.string());
      *exitCode = kExitUsage;
      return;
    }
    auto store = store::openStore(spec);
    std::string tokenName = *name;
    if (tokenName.empty()) {
      char buf[32];
      std::time_t t = std::time(nullptr);
      std::strftime(buf, sizeof buf, "admin-%Y%m%d-%H%M%S", std::localtime(&t));
      tokenName = buf;
    }
    auto token = store.ok() ? auth::newAdminToken(**store, tokenName, "admin-token command")
                            : Result<std::string>(store.status());
    if (!token.ok()) {
      fmt::print(stderr, "boucle admin-token: {}\n", token.status().message());
      *exitCode = kExitFailed;
      return;
    }
    if (auto st = (*store)->addAudit(
            {0, nowMs(), "admin-token command", "token.create", "", tokenName, "admin"});
        !st.ok()) {
      fmt::print(stderr, "boucle admin-token: the audit log could not record it: {}\n",
                 st.message());
      *exitCode = kExitFailed;
    }
    if (auto retired = auth::retireInitialTokenFile(**store, *data); !retired.ok()) {
      fmt::print(stderr, "boucle admin-token: {}\n", retired.status().message());
    }
    fmt::print("{}\n", *token);
    fmt::print(stderr, "admin token '{}' made; it is shown only this once\n", tokenName);
  });
}

}  // namespace

void addTokenCommands(CLI::App& app, int* exitCode) {
  auto token = app.add_subcommand("token", "API tokens: add, list, revoke");
  token->require_subcommand(1);
  addTokenAdd(token, exitCode);
  addTokenList(token, exitCode);
  addTokenRevoke(token, exitCode);
  addAdminToken(app, exitCode);
}

}  // namespace boucle::cli
