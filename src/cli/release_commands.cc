// boucle release: make a release from a passing run, list, show and download releases.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>

#include "cli/client_api.h"
#include "cli/commands.h"

namespace boucle::cli {

using nlohmann::json;

namespace {

void printRelease(const json& r) {
  fmt::print("{} {}  commit {}  run {}  by {}  {}\n", r["project"].get<std::string>(),
             r["version"].get<std::string>(), r["commit"].get<std::string>().substr(0, 12),
             r["run"].get<int64_t>(), r["created_by"].get<std::string>(),
             localTime(r["created_at_ms"]));
  for (const auto& a : r["artifacts"]) {
    fmt::print("  {:>10}  {}  {} ({})\n", a["size"].get<int64_t>(),
               a["sha256"].get<std::string>().substr(0, 16), a["name"].get<std::string>(),
               a["job"].get<std::string>());
  }
}

}  // namespace

void addReleaseCommands(CLI::App& app, int* exitCode) {
  auto release = app.add_subcommand(
      "release",
      "Make an immutable release of a project from a passing run (boucle release PROJECT), or "
      "list, show and download releases");
  auto ra = std::make_shared<ClientArgs>();
  auto project = std::make_shared<std::string>();
  auto fromRun = std::make_shared<int64_t>(0);
  auto version = std::make_shared<std::string>();
  release->add_option("project", *project, "Project");
  release->add_option("--from", *fromRun, "Run to release (default: the newest passing run)");
  release->add_option("--version", *version,
                      "X.Y.Z (default: a semver tag on the commit, else the next version by the "
                      "conventional commits since the last release)");
  addClientOptions(release, *ra);
  release->callback([=, release = release] {
    if (release->get_subcommands().size() > 0) return;  // list/show/download ran instead
    if (project->empty()) {
      fmt::print(stderr, "boucle release: a project is needed (see --help)\n");
      *exitCode = kExitUsage;
      return;
    }
    json body = json::object();
    if (*fromRun > 0) body["run"] = *fromRun;
    if (!version->empty()) body["version"] = *version;
    auto r =
        call(*ra, "POST", "/api/projects/" + urlEncode(*project) + "/releases", body, exitCode);
    if (!r) return;
    if (ra->json) return fmt::print("{}\n", r->dump(2));
    printRelease(*r);
    fmt::print("\n{}", (*r)["notes"].get<std::string>());
  });

  auto list = release->add_subcommand("list", "List a project's releases, newest first");
  auto la = std::make_shared<ClientArgs>();
  auto lproject = std::make_shared<std::string>();
  list->add_option("project", *lproject, "Project")->required();
  addClientOptions(list, *la);
  list->callback([=] {
    auto r =
        call(*la, "GET", "/api/projects/" + urlEncode(*lproject) + "/releases", nullptr, exitCode);
    if (!r) return;
    if (la->json) return fmt::print("{}\n", r->dump(2));
    for (const auto& rel : (*r)["releases"]) {
      fmt::print("{:<12} {}  run {:<6} {}  {}\n", rel["version"].get<std::string>(),
                 rel["commit"].get<std::string>().substr(0, 12), rel["run"].get<int64_t>(),
                 localTime(rel["created_at_ms"]), rel["created_by"].get<std::string>());
    }
  });

  auto show = release->add_subcommand("show", "Show a release: commit, artifacts and notes");
  auto sa = std::make_shared<ClientArgs>();
  auto sproject = std::make_shared<std::string>();
  auto sversion = std::make_shared<std::string>();
  auto notesOnly = std::make_shared<bool>(false);
  show->add_option("project", *sproject, "Project")->required();
  show->add_option("version", *sversion, "Version")->required();
  show->add_flag("--notes", *notesOnly, "Print only the release notes (Markdown)");
  addClientOptions(show, *sa);
  show->callback([=] {
    auto r = call(*sa, "GET",
                  "/api/projects/" + urlEncode(*sproject) + "/releases/" + urlEncode(*sversion),
                  nullptr, exitCode);
    if (!r) return;
    if (sa->json) return fmt::print("{}\n", r->dump(2));
    if (!*notesOnly) {
      printRelease(*r);
      fmt::print("\n");
    }
    fmt::print("{}", (*r)["notes"].get<std::string>());
  });

  auto download = release->add_subcommand(
      "download", "Download a release's artifacts, each checked against its SHA-256");
  auto da = std::make_shared<ClientArgs>();
  auto dproject = std::make_shared<std::string>();
  auto dversion = std::make_shared<std::string>();
  auto into = std::make_shared<std::string>(".");
  download->add_option("project", *dproject, "Project")->required();
  download->add_option("version", *dversion, "Version")->required();
  download->add_option("--to", *into, "Directory to download into (default: .)");
  addClientOptions(download, *da);
  download->callback([=] {
    auto r = call(*da, "GET",
                  "/api/projects/" + urlEncode(*dproject) + "/releases/" + urlEncode(*dversion),
                  nullptr, exitCode);
    if (!r) return;
    for (const auto& a : (*r)["artifacts"]) {
      std::string name = a["name"], sha = a["sha256"];
      if (auto st = downloadArtifact(*da, name, sha, *into); !st.ok()) {
        fmt::print(stderr, "boucle release download: {}\n", st.message());
        *exitCode = kExitFailed;
        return;
      }
      fmt::print("{}  {}\n", sha, (std::filesystem::path(*into) / name).string());
    }
  });
}

}  // namespace boucle::cli
