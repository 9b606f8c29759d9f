// boucle token add NAME [--role R]...: another API token, for a second person or a script.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/client_api.h"
#include "cli/commands.h"

namespace boucle::cli {

void addTokenCommands(CLI::App& app, int* exitCode) {
  auto token = app.add_subcommand("token", "API tokens");
  token->require_subcommand(1);
  auto add = token->add_subcommand(
      "add", "Make a new API token, printed once (only its hash is kept): boucle token add NAME");
  auto args = std::make_shared<ClientArgs>();
  auto name = std::make_shared<std::string>();
  auto roles = std::make_shared<std::vector<std::string>>();
  add->add_option("name", *name, "Who or what uses it (shown in the audit log)")->required();
  add->add_option("--role", *roles,
                  "A role, repeatable: admin (everything; the default), viewer (reads only), or "
                  "any name the pipeline files' deployers/approval lists use (developer, ops…)");
  addClientOptions(add, *args);
  add->callback([=] {
    nlohmann::json body{{"name", *name}};
    if (!roles->empty()) body["roles"] = *roles;
    auto r = call(*args, "POST", "/api/tokens", body, exitCode);
    if (!r) return;
    if (args->json) return fmt::print("{}\n", r->dump(2));
    fmt::print("{}\n", (*r)["token"].get<std::string>());
    std::string list;
    for (const auto& role : (*r)["roles"])
      list += (list.empty() ? "" : ", ") + role.get<std::string>();
    fmt::print(stderr, "token '{}' ({}) made; it is shown only this once\n", *name, list);
  });
}

}  // namespace boucle::cli
