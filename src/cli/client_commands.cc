// Client commands: they only speak the REST API, like the web UI will.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/client_api.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "cli/live_events.h"
#include "core/clock.h"
#include "core/duration.h"
#include "os/files.h"
#include "vault/blob_store.h"

namespace boucle::cli {

using nlohmann::json;

namespace {

// A local repository path is made absolute: the server does not share our working directory.
std::string normaliseUrl(const std::string& url) {
  bool remote = url.find("://") != std::string::npos ||
                (url.find(':') != std::string::npos && url.find('/') > url.find(':'));
  if (remote) return url;
  return std::filesystem::absolute(url).lexically_normal().string();
}

std::string duration(const json& r) {
  if (!r["started_at_ms"].is_number()) return "";
  int64_t end = r["finished_at_ms"].is_number() ? r["finished_at_ms"].get<int64_t>() : nowMs();
  return formatDuration(Millis(end - r["started_at_ms"].get<int64_t>()));
}

// Credentials are read from files (or standard input), never from the command line, where
// they would be left in shell history and `ps` output.
struct CredentialArgs {
  std::string sshKey, tokenFile, username;
};

void addCredentialOptions(CLI::App* cmd, CredentialArgs& c) {
  auto key =
      cmd->add_option("--ssh-key", c.sshKey, "Private key file git uses for an ssh:// repository");
  cmd->add_option("--token-file", c.tokenFile,
                  "File holding an access token for an https:// repository ('-': stdin)")
      ->excludes(key);
  cmd->add_option("--username", c.username, "User name sent with the token (default: boucle)");
}

// The request's "credential": null when none was given.
Result<json> readCredentialArgs(const CredentialArgs& c) {
  if (c.sshKey.empty() && c.tokenFile.empty()) return json(nullptr);
  bool token = !c.tokenFile.empty();
  std::string text;
  if (c.tokenFile == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    auto r = os::readFile(token ? c.tokenFile : c.sshKey);
    if (!r.ok()) return r.status();
    text = *r;
  }
  if (token) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  }
  return json{{"kind", token ? "token" : "ssh-key"}, {"username", c.username}, {"secret", text}};
}

// Settings an admin changes after the project was added; only those given change.
void addProjectSet(CLI::App* project, int* exitCode) {
  auto set = project->add_subcommand("set", "Change a project's settings (admins)");
  auto a = std::make_shared<ClientArgs>();
  auto name = std::make_shared<std::string>();
  auto branches = std::make_shared<std::vector<std::string>>();
  auto releaseBranches = std::make_shared<std::vector<std::string>>();
  auto poll = std::make_shared<std::optional<int>>();
  auto allowProcess = std::make_shared<std::optional<bool>>();
  auto requeue = std::make_shared<std::optional<bool>>();
  auto requestBuilds = std::make_shared<std::string>();
  auto forkSecrets = std::make_shared<std::optional<bool>>();
  auto onRed = std::make_shared<std::string>();
  auto forge = std::make_shared<std::optional<std::string>>();
  auto forgeApi = std::make_shared<std::optional<std::string>>();
  auto forgeRepo = std::make_shared<std::optional<std::string>>();
  auto forgeToken = std::make_shared<std::string>();
  set->add_option("name", *name, "Project name")->required();
  set->add_option("--branch", *branches, "Branches (globs) to build, replacing the list")
      ->expected(1)
      ->allow_extra_args(false)
      ->take_all();
  set->add_option("--release-branch", *releaseBranches,
                  "Release branches (globs), replacing the list")
      ->expected(1)
      ->allow_extra_args(false)
      ->take_all();
  set->add_option("--poll", *poll, "Seconds between polls of the repository (0: never)");
  set->add_option("--allow-process-jobs", *allowProcess,
                  "true: jobs asking for 'isolation: process' run outside the sandbox");
  set->add_option("--requeue-interrupted", *requeue,
                  "true: queue a run again when a server crash or kill cut it short");
  set->add_option("--pull-requests", *requestBuilds,
                  "What a pull request's events build: head (its head commit), merge (the head "
                  "merged into the target branch), both, or off")
      ->check(CLI::IsMember({"head", "merge", "both", "off"}));
  set->add_option("--fork-secrets", *forkSecrets,
                  "true: runs of pull requests from forks get the build secrets too (a "
                  "stranger's code would see them)");
  set->add_option("--on-red", *onRed,
                  "retry_once: a job failing on a green branch runs once more before the branch "
                  "is called broken (a pass makes the run 'passed (flaky)'); off")
      ->check(CLI::IsMember({"retry_once", "off"}));
  set->add_option("--forge", *forge,
                  "Set each run's result as a commit status on this forge: github, gitlab, gitea "
                  "('' stops it)");
  set->add_option("--forge-api", *forgeApi,
                  "The forge's API (default: told from the URL, e.g. https://api.github.com)");
  set->add_option("--forge-repo", *forgeRepo,
                  "The repository there: OWNER/NAME, or GitLab's project path or id (default: "
                  "told from the URL)");
  set->add_option("--forge-token-file", *forgeToken,
                  "File holding the token statuses are set with ('-': stdin; default: the "
                  "project's token credential)");
  addClientOptions(set, *a);
  set->callback([=] {
    json body = json::object();
    if (!branches->empty()) body["branches"] = *branches;
    if (!releaseBranches->empty()) body["release_branches"] = *releaseBranches;
    if (*poll) body["poll_seconds"] = **poll;
    if (*allowProcess) body["allow_process_jobs"] = **allowProcess;
    if (*requeue) body["requeue_interrupted"] = **requeue;
    if (!requestBuilds->empty()) body["request_builds"] = *requestBuilds;
    if (*forkSecrets) body["fork_secrets"] = **forkSecrets;
    if (!onRed->empty()) body["on_red"] = *onRed;
    if (*forge) body["forge"] = **forge;
    if (*forgeApi) body["forge_api"] = **forgeApi;
    if (*forgeRepo) body["forge_repo"] = **forgeRepo;
    if (!forgeToken->empty()) {
      auto text = readSecretInput(*forgeToken, "forge token");
      if (!text.ok()) {
        fmt::print(stderr, "boucle project set: {}\n", text.status().message());
        *exitCode = kExitUsage;
        return;
      }
      body["forge_token"] = *text;
      std::fill(text->begin(), text->end(), '\0');
    }
    if (body.empty()) {
      fmt::print(stderr, "boucle project set: give at least one setting (see --help)\n");
      *exitCode = kExitUsage;
      return;
    }
    auto r = call(*a, "PATCH", "/api/projects/" + urlEncode(*name), body, exitCode);
    if (!r) return;
    if (a->json) return fmt::print("{}\n", r->dump(2));
    if (body.contains("forge_token")) body["forge_token"] = "(stored encrypted)";
    fmt::print("project {} updated: {}\n", *name, body.dump());
  });
}

void addProjectCommands(CLI::App& app, int* exitCode) {
  auto* project = app.add_subcommand("project", "Add, list, show, change and remove projects");
  project->require_subcommand(1);

  auto add = project->add_subcommand("add", "Add a project: boucle builds its watched branches");
  auto cred = std::make_shared<CredentialArgs>();
  auto a = std::make_shared<ClientArgs>();
  auto name = std::make_shared<std::string>();
  auto url = std::make_shared<std::string>();
  auto branches = std::make_shared<std::vector<std::string>>();
  auto secret = std::make_shared<std::string>();
  auto poll = std::make_shared<int>(60);
  add->add_option("name", *name, "Project name")->required();
  add->add_option("url", *url, "Git URL or path of the repository")->required();
  add->add_option("--branch", *branches, "Branch (glob) to build; repeat for more (default: main)")
      ->expected(1)
      ->allow_extra_args(false)
      ->take_all();
  add->add_option("--webhook-secret", *secret, "Secret for push webhooks (default: generated)");
  add->add_option("--poll", *poll, "Seconds between polls of the repository (0: never)")
      ->capture_default_str();
  auto requeue = std::make_shared<bool>(false);
  add->add_flag("--requeue-interrupted", *requeue,
                "Queue a run again when a server crash or kill cut it short");
  auto releaseBranches = std::make_shared<std::vector<std::string>>();
  add->add_option("--release-branch", *releaseBranches,
                  "Branch (glob) whose runs make releases and whose pipeline file sets the "
                  "environments' rules; repeat for more (default: the first --branch)")
      ->expected(1)
      ->allow_extra_args(false)
      ->take_all();
  auto allowProcess = std::make_shared<bool>(false);
  add->add_flag("--allow-process-jobs", *allowProcess,
                "Let jobs that ask for 'isolation: process' run outside the sandbox");
  addCredentialOptions(add, *cred);
  addClientOptions(add, *a);
  add->callback([=] {
    json body = {{"name", *name},
                 {"url", normaliseUrl(*url)},
                 {"poll_seconds", *poll},
                 {"requeue_interrupted", *requeue}};
    if (!branches->empty()) body["branches"] = *branches;
    if (!releaseBranches->empty()) body["release_branches"] = *releaseBranches;
    if (*allowProcess) body["allow_process_jobs"] = true;
    if (!secret->empty()) body["webhook_secret"] = *secret;
    auto credential = readCredentialArgs(*cred);
    if (!credential.ok()) {
      fmt::print(stderr, "boucle project add: {}\n", credential.status().message());
      *exitCode = kExitUsage;
      return;
    }
    if (!credential->is_null()) body["credential"] = *credential;
    auto r = call(*a, "POST", "/api/projects", body, exitCode);
    if (!r) return;
    if (a->json) return fmt::print("{}\n", r->dump(2));
    fmt::print("project {} added ({})\nwebhook secret: {}\n", (*r)["name"].get<std::string>(),
               (*r)["url"].get<std::string>(), (*r)["webhook_secret"].get<std::string>());
  });

  auto list = project->add_subcommand("list", "List projects");
  auto la = std::make_shared<ClientArgs>();
  addClientOptions(list, *la);
  list->callback([=] {
    auto r = call(*la, "GET", "/api/projects", nullptr, exitCode);
    if (!r) return;
    if (la->json) return fmt::print("{}\n", r->dump(2));
    for (const auto& p : (*r)["projects"]) {
      std::string br;
      for (const auto& b : p["branches"]) {
        if (!br.empty()) br += ",";
        br += b.get<std::string>();
      }
      fmt::print("{:<20} {:<12} {}\n", p["name"].get<std::string>(), br,
                 p["url"].get<std::string>());
    }
  });

  auto show = project->add_subcommand("show", "Show a project, with its webhook secret");
  auto sa = std::make_shared<ClientArgs>();
  auto sname = std::make_shared<std::string>();
  show->add_option("name", *sname, "Project name")->required();
  addClientOptions(show, *sa);
  show->callback([=] {
    auto r = call(*sa, "GET", "/api/projects/" + urlEncode(*sname), nullptr, exitCode);
    if (!r) return;
    fmt::print("{}\n", r->dump(2));
  });

  addProjectSet(project, exitCode);

  auto credential = project->add_subcommand(
      "credential", "Set or remove the credential git uses to reach a project's repository");
  auto ca = std::make_shared<ClientArgs>();
  auto cname = std::make_shared<std::string>();
  auto ccred = std::make_shared<CredentialArgs>();
  auto cremove = std::make_shared<bool>(false);
  credential->add_option("name", *cname, "Project name")->required();
  addCredentialOptions(credential, *ccred);
  credential->add_flag("--remove", *cremove, "Remove the credential");
  addClientOptions(credential, *ca);
  credential->callback([=] {
    auto c = readCredentialArgs(*ccred);
    if (!c.ok() || (c->is_null() != *cremove)) {
      fmt::print(
          stderr, "boucle project credential: {}\n",
          c.ok() ? "give --ssh-key FILE, --token-file FILE or --remove" : c.status().message());
      *exitCode = kExitUsage;
      return;
    }
    auto r = call(*ca, "PUT", "/api/projects/" + urlEncode(*cname) + "/credential", *c, exitCode);
    if (!r) return;
    if (ca->json) return fmt::print("{}\n", r->dump(2));
    if (*cremove)
      fmt::print("project {}: credential removed\n", *cname);
    else
      fmt::print("project {}: {} credential stored (encrypted; it is never shown)\n", *cname,
                 (*c)["kind"].get<std::string>());
  });

  auto remove = project->add_subcommand("remove", "Remove a project and its runs");
  auto ra = std::make_shared<ClientArgs>();
  auto rname = std::make_shared<std::string>();
  remove->add_option("name", *rname, "Project name")->required();
  addClientOptions(remove, *ra);
  remove->callback([=] {
    auto r = call(*ra, "DELETE", "/api/projects/" + urlEncode(*rname), nullptr, exitCode);
    if (r && !ra->json) fmt::print("project {} removed\n", *rname);
    if (r && ra->json) fmt::print("{}\n", r->dump(2));
  });
}

// Downloads one artifact next to the others in `dir`, refusing a path that would leave `dir`
// and a file whose content does not hash to what the server announced.
void addRunCommands(CLI::App& app, int* exitCode) {
  auto trigger = app.add_subcommand("trigger", "Queue a run of a project's pipeline");
  auto ta = std::make_shared<ClientArgs>();
  auto project = std::make_shared<std::string>();
  auto ref = std::make_shared<std::string>();
  trigger->add_option("project", *project, "Project name")->required();
  trigger->add_option("--ref", *ref, "Branch, tag or commit (default: the project's first branch)");
  auto wait = std::make_shared<bool>(false);
  trigger->add_flag("-w,--wait", *wait,
                    "Follow the run live (its jobs as they start and end) until it ends; exit 0 "
                    "when it passed, 1 otherwise");
  addClientOptions(trigger, *ta);
  trigger->callback([=] {
    json body = json::object();
    if (!ref->empty()) body["ref"] = *ref;
    auto r = call(*ta, "POST", "/api/projects/" + urlEncode(*project) + "/runs", body, exitCode);
    if (!r) return;
    if (ta->json) return fmt::print("{}\n", r->dump(2));
    fmt::print("run {} queued ({} #{}, {})\n", (*r)["id"].get<int64_t>(), *project,
               (*r)["number"].get<int64_t>(), (*r)["ref"].get<std::string>());
    if (*wait) {
      std::fflush(stdout);
      *exitCode = followRun(*ta, *project, (*r)["id"].get<int64_t>());
    }
  });

  auto status = app.add_subcommand("status", "The latest runs, newest first");
  auto sa = std::make_shared<ClientArgs>();
  auto sproject = std::make_shared<std::string>();
  auto limit = std::make_shared<int>(20);
  status->add_option("project", *sproject, "Only this project");
  status->add_option("-n,--limit", *limit, "How many runs")->capture_default_str();
  addClientOptions(status, *sa);
  status->callback([=] {
    std::string target = "/api/runs?limit=" + std::to_string(*limit);
    if (!sproject->empty()) target += "&project=" + urlEncode(*sproject);
    auto r = call(*sa, "GET", target, nullptr, exitCode);
    if (!r) return;
    if (sa->json) return fmt::print("{}\n", r->dump(2));
    for (const auto& run : (*r)["runs"]) {
      std::string commit = run["commit"].get<std::string>().substr(0, 10);
      fmt::print("{:>6}  {:<16} #{:<4} {:<16} {:<10} {:<11} {:>8}  {}\n", run["id"].get<int64_t>(),
                 run["project"].get<std::string>(), run["number"].get<int64_t>(),
                 run["branch"].get<std::string>().empty() ? run["ref"].get<std::string>()
                                                          : run["branch"].get<std::string>(),
                 commit, run["state"].get<std::string>(), duration(run),
                 run["subject"].get<std::string>());
      // A pass that hides something says so on a line of its own: the columns stay aligned.
      if (std::string q = run.value("qualifier", ""); !q.empty() && run["state"] == "passed")
        fmt::print("        passed ({}): see boucle tests {} --flaky\n",
                   q == "flaky,quarantined" ? "flaky, quarantined" : q,
                   run["project"].get<std::string>());
      const json& since = run["broken_since"];
      if (const json& pr = run["pull_request"]; pr.is_object()) {
        fmt::print("        pull request {} by {}: {} → {}{}{}: {}\n", pr["number"].get<int64_t>(),
                   pr["author"].get<std::string>(), pr["source"].get<std::string>(),
                   pr["target"].get<std::string>(), pr["merge"].get<bool>() ? " (merged)" : "",
                   pr["fork"].get<bool>() ? " (fork)" : "", pr["title"].get<std::string>());
      }
      if (run["event"] == "fixed" && since.is_object()) {
        fmt::print("        FIXED by {} ({}), broken since run {} ({} by {})\n",
                   run["commit"].get<std::string>().substr(0, 10), run["author"].get<std::string>(),
                   since["run"].get<int64_t>(), since["commit"].get<std::string>().substr(0, 10),
                   since["author"].get<std::string>());
      } else if (run["state"] == "failed" && since.is_object()) {
        bool first = since["run"] == run["id"];
        int suspects = since.value("suspects", 0);
        std::string bisection = since.value("bisection", "");
        if (bisection == "running") {
          fmt::print("        {} one of {} commits up to {}: bisecting to find which\n",
                     first ? "BROKEN by" : "broken since", suspects,
                     since["run_commit"].get<std::string>().substr(0, 10));
          continue;
        }
        fmt::print("        {} {} by {}: {}{}\n", first ? "BROKEN by" : "broken since",
                   since["commit"].get<std::string>().substr(0, 10),
                   since["author"].get<std::string>(), since["subject"].get<std::string>(),
                   bisection == "found" ? fmt::format(" (found by bisecting {} commits)", suspects)
                   : bisection == "stopped"
                       ? fmt::format(" (one of {} commits: bisection stopped)", suspects)
                       : "");
      } else if (run["trigger"] == "bisect") {
        fmt::print("        bisection run for run {}\n", run["bisect_of"].get<int64_t>());
      }
    }
  });

  auto rerun = app.add_subcommand("rerun", "Run a finished run's commit again, all jobs");
  auto ra = std::make_shared<ClientArgs>();
  auto rid = std::make_shared<std::string>();
  rerun->add_option("run", *rid, "Run id")->required();
  addClientOptions(rerun, *ra);
  rerun->callback([=] {
    auto r = call(*ra, "POST", "/api/runs/" + urlEncode(*rid) + "/rerun", nullptr, exitCode);
    if (r && ra->json) return fmt::print("{}\n", r->dump(2));
    if (r) fmt::print("run {} queued (re-run of {})\n", (*r)["id"].get<int64_t>(), *rid);
  });

  auto retry = app.add_subcommand("retry",
                                  "Run one job of a finished run again (and what it needs): "
                                  "boucle retry RUN/JOB");
  auto ya = std::make_shared<ClientArgs>();
  auto retryWhich = std::make_shared<std::string>();
  retry->add_option("run/job", *retryWhich, "Run id and job name, e.g. 42/test")->required();
  addClientOptions(retry, *ya);
  retry->callback([=] {
    auto slash = retryWhich->find('/');
    if (slash == std::string::npos) {
      fmt::print(stderr, "boucle retry: expected RUN/JOB, e.g. 42/test\n");
      *exitCode = kExitUsage;
      return;
    }
    auto r = call(*ya, "POST",
                  "/api/runs/" + urlEncode(retryWhich->substr(0, slash)) + "/jobs/" +
                      urlEncode(retryWhich->substr(slash + 1)) + "/retry",
                  nullptr, exitCode);
    if (r && ya->json) return fmt::print("{}\n", r->dump(2));
    if (r) fmt::print("run {} queued (retry of {})\n", (*r)["id"].get<int64_t>(), *retryWhich);
  });

  auto artifacts = app.add_subcommand("artifacts", "List a run's artifacts, or download them");
  auto aa = std::make_shared<ClientArgs>();
  auto arun = std::make_shared<std::string>();
  auto into = std::make_shared<std::string>();
  artifacts->add_option("run", *arun, "Run id")->required();
  artifacts->add_option("--download", *into,
                        "Download every artifact into this directory (each one's SHA-256 is "
                        "checked)");
  addClientOptions(artifacts, *aa);
  artifacts->callback([=] {
    auto r = call(*aa, "GET", "/api/runs/" + urlEncode(*arun) + "/artifacts", nullptr, exitCode);
    if (!r) return;
    if (aa->json && into->empty()) return fmt::print("{}\n", r->dump(2));
    for (const auto& a : (*r)["artifacts"]) {
      std::string path = a["path"], sha = a["sha256"];
      if (into->empty()) {
        fmt::print("{:<12} {:>10}  {}  {}\n", a["job"].get<std::string>(), a["size"].get<int64_t>(),
                   sha, path);
        continue;
      }
      if (auto st = downloadArtifact(*aa, path, sha, *into); !st.ok()) {
        fmt::print(stderr, "boucle artifacts: {}\n", st.message());
        *exitCode = kExitFailed;
        return;
      }
      fmt::print("{}  {}\n", sha, (std::filesystem::path(*into) / path).string());
    }
  });

  auto cancel = app.add_subcommand("cancel", "Cancel a queued or running run");
  auto ca = std::make_shared<ClientArgs>();
  auto runId = std::make_shared<std::string>();
  cancel->add_option("run", *runId, "Run id")->required();
  addClientOptions(cancel, *ca);
  cancel->callback([=] {
    auto r = call(*ca, "POST", "/api/runs/" + urlEncode(*runId) + "/cancel", nullptr, exitCode);
    if (r && !ca->json) fmt::print("cancelling run {}\n", *runId);
    if (r && ca->json) fmt::print("{}\n", r->dump(2));
  });

  auto logs = app.add_subcommand("logs", "Print a job's log: boucle logs RUN/JOB [-f]");
  auto la = std::make_shared<ClientArgs>();
  auto which = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  logs->add_option("run/job", *which, "Run id and job name, e.g. 42/build")->required();
  logs->add_flag("-f,--follow", *follow, "Keep printing as the job writes, until it ends");
  addClientOptions(logs, *la);
  logs->callback([=] {
    auto slash = which->find('/');
    if (slash == std::string::npos) {
      fmt::print(stderr, "boucle logs: expected RUN/JOB, e.g. 42/build\n");
      *exitCode = kExitUsage;
      return;
    }
    auto e = endpointFrom(la->server, la->token);
    if (!e.ok()) {
      fmt::print(stderr, "boucle: {}\n", e.status().message());
      *exitCode = kExitUsage;
      return;
    }
    std::string target = "/api/runs/" + urlEncode(which->substr(0, slash)) + "/jobs/" +
                         urlEncode(which->substr(slash + 1)) + "/log" +
                         (*follow ? "?follow=1" : "");
    std::string errorBody;
    int status = 0;
    auto r = httpStream(*e, target, [&](std::string_view piece) {
      if (status == 0 || status < 400) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      }
      return true;
    });
    if (!r.ok()) {
      fmt::print(stderr, "boucle: {}\n", r.status().message());
      *exitCode = kExitFailed;
      return;
    }
    *exitCode = *r >= 400 ? kExitFailed : kExitOk;
  });
}

}  // namespace

void addClientCommands(CLI::App& app, int* exitCode) {
  addProjectCommands(app, exitCode);
  addRunCommands(app, exitCode);
}

}  // namespace boucle::cli
