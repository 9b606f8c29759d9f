// boucle migrate --from SPEC --to SPEC: an installation moved to another database (SQLite to
// PostgreSQL when a team outgrows one server), then checked.
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "os/files.h"
#include "store/sql/copy.h"
#include "store/store.h"

namespace boucle::cli {

namespace {

struct MigrateArgs {
  std::string from;
  std::string to;
  bool json = false;
};

// While a server runs on a SQLite source, writes after the copy's snapshot would be lost:
// refused. The lock (shared) also keeps one from starting during the copy.
Result<os::Fd> holdSourceFolder(const std::string& from) {
  if (!from.starts_with("sqlite:")) return os::Fd();
  std::filesystem::path lock = std::filesystem::path(from.substr(7)).parent_path() / "server.lock";
  os::Fd fd(::open(lock.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return os::Fd();  // no server ever ran there
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) != 0)
    return Status::Conflict("a boucle server is running on " + lock.parent_path().string() +
                            ": stop it first");
  return fd;
}

int migrate(const MigrateArgs& a) {
  auto fail = [](int code, const std::string& why) {
    fmt::print(stderr, "boucle migrate: {}\n", why);
    return code;
  };
  if (auto why = store::checkStoreSpec(a.from); !why.empty())
    return fail(kExitUsage, "--from: " + why);
  if (auto why = store::checkStoreSpec(a.to); !why.empty()) return fail(kExitUsage, "--to: " + why);
  auto held = holdSourceFolder(a.from);
  if (!held.ok()) return fail(kExitUsage, held.status().message());
  auto from = store::sql::connect(a.from, true);
  if (!from.ok()) return fail(kExitUsage, "--from: " + from.status().message());
  auto to = store::sql::connect(a.to, false);
  if (!to.ok()) return fail(kExitUsage, "--to: " + to.status().message());
  bool tty = ::isatty(2);
  auto report = store::sql::copyDatabase(**from, **to, [&](const std::string& table, int64_t n) {
    if (tty) fmt::print(stderr, "\r\033[K{}: {} rows", table, n);
  });
  if (tty) fmt::print(stderr, "\r\033[K");
  if (!report.ok()) {
    return fail(report.status().code() == Code::kConflict ? kExitUsage : kExitFailed,
                report.status().message());
  }
  int code = report->differences.empty() ? kExitOk : kExitFailed;
  if (a.json) {
    nlohmann::json tables = nlohmann::json::array();
    for (const auto& t : report->tables)
      tables.push_back({{"table", t.table}, {"source", t.source}, {"target", t.target}});
    nlohmann::json j = {{"tables", tables},
                        {"compared", report->compared},
                        {"differences", report->differences},
                        {"ok", report->differences.empty()}};
    fmt::print("{}\n", j.dump(2));
    return code;
  }
  for (const auto& t : report->tables) {
    if (t.source > 0 || t.target > 0) fmt::print("{:<20} {:>9} rows\n", t.table, t.target);
  }
  fmt::print(
      "checked: every table's rows counted in both; {} runs, releases and deploys "
      "compared value by value\n",
      report->compared);
  for (const auto& d : report->differences) fmt::print("DIFFERENT: {}\n", d);
  if (code == kExitOk)
    fmt::print("the target holds what the source did\n");
  else
    fmt::print("the copy was rolled back: the target is as it was\n");
  return code;
}

}  // namespace

void addMigrateCommand(CLI::App& app, int* exitCode) {
  auto cmd = app.add_subcommand(
      "migrate",
      "Move an installation to another database (e.g. SQLite to PostgreSQL): every table "
      "copied, then rows counted and runs, releases and deploys compared (exit 1 when they "
      "differ). Stop the server first; the target must be empty.");
  auto a = std::make_shared<MigrateArgs>();
  cmd->add_option("--from", a->from, "The database to copy: sqlite:DATA/boucle.db or postgres://…")
      ->required();
  cmd->add_option("--to", a->to,
                  "The empty database to fill: postgres://USER@HOST/DB (password in ~/.pgpass "
                  "or PGPASSFILE) or sqlite:PATH")
      ->required();
  cmd->add_flag("--json", a->json, "Print the tables' counts and the check as JSON");
  cmd->callback([a, exitCode] { *exitCode = migrate(*a); });
}

}  // namespace boucle::cli
