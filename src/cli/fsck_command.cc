// boucle fsck DATA: the vault and the database checked, for an operator after a disk error or
// before trusting a backup.
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/store_spec.h"
#include "store/store.h"
#include "vault/fsck.h"

namespace boucle::cli {

void addFsckCommand(CLI::App& app, int* exitCode) {
  auto cmd = app.add_subcommand(
      "fsck",
      "Check a server's data folder: every artifact hashed again, releases' artifacts "
      "present, the database's integrity (exit 1 when something is wrong)");
  auto data = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("data", *data, "The server's data directory")->required();
  auto dbSpec = std::make_shared<std::string>();
  cmd->add_flag("--json", *json, "Print the findings as JSON");
  cmd->add_option(
      "--db", *dbSpec,
      "The server's database, when not the one its last start recorded in DATA/database");
  cmd->callback([=] {
    std::filesystem::path db = std::filesystem::path(*data) / "boucle.db";
    std::string spec = storeSpecFor(*data, *dbSpec);
    if (spec == "sqlite:" + db.string() && !std::filesystem::exists(db)) {
      fmt::print(stderr, "boucle fsck: no {} (is {} a server's data folder?)\n", db.string(),
                 *data);
      *exitCode = kExitUsage;
      return;
    }
    auto store = store::openStore(spec);
    if (!store.ok()) {
      fmt::print(stderr, "boucle fsck: {}\n", store.status().message());
      *exitCode = kExitFailed;
      return;
    }
    bool tty = ::isatty(2);
    auto check = vault::checkVault(
        **store, std::filesystem::path(*data) / "blobs", [&](uint64_t n, uint64_t bytes) {
          if (tty && n % 50 == 0) fmt::print(stderr, "\r{} blobs, {} MB checked", n, bytes >> 20);
        });
    if (tty) fmt::print(stderr, "\r\033[K");
    if (!check.ok()) {
      fmt::print(stderr, "boucle fsck: {}\n", check.status().message());
      *exitCode = kExitFailed;
      return;
    }
    *exitCode = check->clean() ? kExitOk : kExitFailed;
    if (*json) {
      nlohmann::json j = {{"blobs", check->blobs},       {"bytes", check->bytes},
                          {"corrupt", check->corrupt},   {"missing", check->missing},
                          {"database", check->database}, {"clean", check->clean()}};
      return fmt::print("{}\n", j.dump(2));
    }
    fmt::print("{} blobs ({} MB) hashed again: {} corrupt\n", check->blobs, check->bytes >> 20,
               check->corrupt.size());
    for (const auto& c : check->corrupt) fmt::print("  corrupt: {}\n", c);
    fmt::print("releases' artifacts: {} missing\n", check->missing.size());
    for (const auto& m : check->missing) fmt::print("  missing: {}\n", m);
    fmt::print("database: {}\n", check->database);
  });
}

}  // namespace boucle::cli
