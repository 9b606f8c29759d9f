// boucle user add/list/disable/password: the people who sign in to the web UI with a name and
// a password. Passwords are read from a file or standard input, never from the command line.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/client_api.h"
#include "cli/commands.h"

namespace boucle::cli {

namespace {

std::string rolesOf(const nlohmann::json& roles) {
  std::string list;
  for (const auto& role : roles) list += (list.empty() ? "" : ", ") + role.get<std::string>();
  return list;
}

}  // namespace

void addUserCommands(CLI::App& app, int* exitCode) {
  auto user = app.add_subcommand("user", "People who sign in to the web UI (admins)");
  user->require_subcommand(1);

  auto add = user->add_subcommand(
      "add", "Add a person, their password read from standard input: boucle user add NAME");
  auto aa = std::make_shared<ClientArgs>();
  auto name = std::make_shared<std::string>();
  auto roles = std::make_shared<std::vector<std::string>>();
  auto passwordFile = std::make_shared<std::string>();
  add->add_option("name", *name, "Their name (what they sign in with; user:NAME in rules)")
      ->required();
  add->add_option("--role", *roles,
                  "A role, repeatable: viewer (the default), admin, or any name the pipeline "
                  "files' deployers/approval lists use");
  add->add_option("--password-file", *passwordFile,
                  "File holding their first password ('-' or none: standard input)");
  addClientOptions(add, *aa);
  add->callback([=] {
    auto password = readSecretInput(*passwordFile, "password for " + *name);
    if (!password.ok()) {
      fmt::print(stderr, "boucle user add: {}\n", password.status().message());
      *exitCode = kExitUsage;
      return;
    }
    nlohmann::json body{{"name", *name}, {"password", *password}};
    std::fill(password->begin(), password->end(), '\0');
    if (!roles->empty()) body["roles"] = *roles;
    auto r = call(*aa, "POST", "/api/users", body, exitCode);
    if (!r) return;
    if (aa->json) return fmt::print("{}\n", r->dump(2));
    fmt::print("{} may sign in ({})\n", *name, rolesOf((*r)["roles"]));
  });

  auto list = user->add_subcommand("list", "The people, with their roles");
  auto la = std::make_shared<ClientArgs>();
  addClientOptions(list, *la);
  list->callback([=] {
    auto r = call(*la, "GET", "/api/users", nullptr, exitCode);
    if (!r) return;
    if (la->json) return fmt::print("{}\n", r->dump(2));
    for (const auto& u : (*r)["users"]) {
      fmt::print("{:<20} {:<30} {}\n", u["name"].get<std::string>(), rolesOf(u["roles"]),
                 u["disabled"].get<bool>() ? "disabled" : "");
    }
  });

  auto disable = user->add_subcommand(
      "disable", "Stop a person signing in; their sessions and tokens stop at once");
  auto da = std::make_shared<ClientArgs>();
  auto dname = std::make_shared<std::string>();
  auto undo = std::make_shared<bool>(false);
  disable->add_option("name", *dname, "Their name")->required();
  disable->add_flag("--undo", *undo, "Let them sign in again");
  addClientOptions(disable, *da);
  disable->callback([=] {
    auto r = call(*da, "PATCH", "/api/users/" + urlEncode(*dname),
                  nlohmann::json{{"disabled", !*undo}}, exitCode);
    if (r && da->json) return fmt::print("{}\n", r->dump(2));
    if (r) fmt::print("{} {}\n", *dname, *undo ? "may sign in again" : "is disabled");
  });

  auto roleCmd =
      user->add_subcommand("roles", "Replace a person's roles: boucle user roles NAME --role R…");
  auto ra = std::make_shared<ClientArgs>();
  auto rname = std::make_shared<std::string>();
  auto rroles = std::make_shared<std::vector<std::string>>();
  roleCmd->add_option("name", *rname, "Their name")->required();
  roleCmd->add_option("--role", *rroles, "A role, repeatable")->required();
  addClientOptions(roleCmd, *ra);
  roleCmd->callback([=] {
    auto r = call(*ra, "PATCH", "/api/users/" + urlEncode(*rname),
                  nlohmann::json{{"roles", *rroles}}, exitCode);
    if (r && ra->json) return fmt::print("{}\n", r->dump(2));
    if (r) fmt::print("{}: {}\n", *rname, rolesOf((*r)["roles"]));
  });

  auto password = user->add_subcommand(
      "password", "Set a person's password, read from standard input (an admin: anyone's)");
  auto pa = std::make_shared<ClientArgs>();
  auto pname = std::make_shared<std::string>();
  auto pfile = std::make_shared<std::string>();
  password->add_option("name", *pname, "Their name")->required();
  password->add_option("--password-file", *pfile, "File holding the new password");
  addClientOptions(password, *pa);
  password->callback([=] {
    auto text = readSecretInput(*pfile, "new password for " + *pname);
    if (!text.ok()) {
      fmt::print(stderr, "boucle user password: {}\n", text.status().message());
      *exitCode = kExitUsage;
      return;
    }
    nlohmann::json body{{"password", *text}};
    std::fill(text->begin(), text->end(), '\0');
    auto r = call(*pa, "PUT", "/api/users/" + urlEncode(*pname) + "/password", body, exitCode);
    if (r && pa->json) return fmt::print("{}\n", r->dump(2));
    if (r) fmt::print("{}: password changed; their other sessions ended\n", *pname);
  });
}

}  // namespace boucle::cli
