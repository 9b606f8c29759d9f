// boucle tests / boucle test quarantine|release|history: a project's tests over its runs, the
// flaky ones, and quarantines (a flaky test's failures failing no job while its owner fixes it).
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/client_api.h"
#include "cli/commands.h"
#include "core/encoding.h"

namespace boucle::cli {

namespace {

// What a job's report names, shown in a terminal: its control characters (an escape sequence a
// report could hold) are not passed on.
std::string shown(const nlohmann::json& v) {
  std::string s = v.get<std::string>();
  for (char& c : s)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') || c == 0x7f) c = '?';
  return s;
}

std::string msText(double ms) {
  if (ms >= 1000) return fmt::format("{:.1f} s", ms / 1000);
  return fmt::format("{:.1f} ms", ms);
}

void printSummary(const nlohmann::json& t) {
  std::string state = t["last"].get<std::string>();
  if (!t["quarantine"].is_null()) {
    const auto& q = t["quarantine"];
    state += fmt::format(", quarantined until {} by {} ({} of {} clean runs)",
                         localTime(q["expires_at_ms"]), q["owner"].get<std::string>(),
                         q["clean_runs"].get<int>(), q["clean_needed"].get<int>());
  }
  fmt::print("{}\n", shown(t["key"]));
  fmt::print(
      "  {} runs: {} passed, {} failed, {} skipped; flaky {} time(s) in 30 days; median "
      "{}; last {}\n",
      t["runs"].get<int>(), t["passed"].get<int>(), t["failed"].get<int>(), t["skipped"].get<int>(),
      t["flakes"].get<int>(), msText(t["median_ms"].get<double>()), state);
  if (!t["cluster"].is_null()) fmt::print("  {}\n", shown(t["cluster"]["text"]));
}

}  // namespace

void addTestCommands(CLI::App& app, int* exitCode) {
  auto tests = app.add_subcommand(
      "tests", "A project's tests over its last runs: boucle tests PROJECT [--flaky]");
  auto ta = std::make_shared<ClientArgs>();
  auto project = std::make_shared<std::string>();
  auto flaky = std::make_shared<bool>(false);
  auto window = std::make_shared<int>(200);
  tests->add_option("project", *project, "Project name")->required();
  tests->add_flag("--flaky", *flaky,
                  "Only the tests that failed and passed on one commit (30 days), and the "
                  "quarantined ones");
  tests->add_option("--runs", *window, "How many job runs to look back over (1-1000)")
      ->check(CLI::Range(1, 1000));
  addClientOptions(tests, *ta);
  tests->callback([=] {
    std::string target = "/api/projects/" + urlEncode(*project) +
                         "/tests?limit=" + std::to_string(*window) + (*flaky ? "&flaky=1" : "");
    auto r = call(*ta, "GET", target, nullptr, exitCode);
    if (!r) return;
    if (ta->json) return fmt::print("{}\n", r->dump(2));
    const auto& list = (*r)["tests"];
    if (list.empty()) {
      fmt::print("{}\n", *flaky ? "no flaky or quarantined test" : "no test reported yet");
      return;
    }
    for (const auto& t : list) printSummary(t);
  });

  auto test = app.add_subcommand("test", "One test: its history, its quarantine");
  test->require_subcommand(1);

  auto history = test->add_subcommand(
      "history", "A test's results and durations over runs: boucle test history PROJECT TEST");
  auto ha = std::make_shared<ClientArgs>();
  auto hproject = std::make_shared<std::string>();
  auto hname = std::make_shared<std::string>();
  history->add_option("project", *hproject, "Project name")->required();
  history
      ->add_option("test", *hname,
                   "The test, as \"suite \u203a name\" (as `boucle tests` names it)")
      ->required();
  addClientOptions(history, *ha);
  history->callback([=] {
    auto r =
        call(*ha, "GET",
             "/api/projects/" + urlEncode(*hproject) + "/tests/history?test=" + urlEncode(*hname),
             nullptr, exitCode);
    if (!r) return;
    if (ha->json) return fmt::print("{}\n", r->dump(2));
    printSummary((*r)["test"]);
    for (const auto& p : (*r)["history"]) {
      std::string where = p["agent"].get<std::string>();
      fmt::print("  run {:<6} {:<10} {:<8} {:>10}  {} {}{}\n", p["run_id"].get<int64_t>(),
                 shown(p["job"]), p["outcome"].get<std::string>(), msText(p["ms"].get<double>()),
                 p["commit"].get<std::string>().substr(0, 10), shown(p["branch"]),
                 where.empty() ? "" : " on " + shown(p["agent"]));
      if (!p["message"].get<std::string>().empty()) fmt::print("      {}\n", shown(p["message"]));
    }
  });

  auto quarantine = test->add_subcommand(
      "quarantine",
      "Let a flaky test's failures fail no job for a while; you own its fix: boucle test "
      "quarantine PROJECT TEST --reason TEXT [--until 14d]");
  auto qa = std::make_shared<ClientArgs>();
  auto qproject = std::make_shared<std::string>();
  auto qname = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  auto until = std::make_shared<std::string>("14d");
  auto clean = std::make_shared<int>(10);
  quarantine->add_option("project", *qproject, "Project name")->required();
  quarantine->add_option("test", *qname, "The test, as \"suite \u203a name\"")->required();
  quarantine->add_option("--reason", *reason, "What is wrong with it (required)")->required();
  quarantine->add_option("--until", *until,
                         "How long at most (a duration such as 14d, 2w; at most 90d)");
  quarantine
      ->add_option("--clean-runs", *clean, "Passes in a row that end the quarantine by themselves")
      ->check(CLI::Range(1, 1000));
  addClientOptions(quarantine, *qa);
  quarantine->callback([=] {
    nlohmann::json body{
        {"test", *qname}, {"reason", *reason}, {"until", *until}, {"clean_runs", *clean}};
    auto r =
        call(*qa, "POST", "/api/projects/" + urlEncode(*qproject) + "/quarantines", body, exitCode);
    if (!r) return;
    if (qa->json) return fmt::print("{}\n", r->dump(2));
    fmt::print("{} is quarantined until {} (owner {}), or until {} clean runs in a row\n",
               shown((*r)["test"]), localTime((*r)["expires_at_ms"]),
               (*r)["owner"].get<std::string>(), (*r)["clean_needed"].get<int>());
  });

  auto release =
      test->add_subcommand("release", "End a test's quarantine: its failures fail jobs again");
  auto ra = std::make_shared<ClientArgs>();
  auto rproject = std::make_shared<std::string>();
  auto rname = std::make_shared<std::string>();
  release->add_option("project", *rproject, "Project name")->required();
  release->add_option("test", *rname, "The test, as \"suite \u203a name\"")->required();
  addClientOptions(release, *ra);
  release->callback([=] {
    auto r = call(*ra, "POST", "/api/projects/" + urlEncode(*rproject) + "/quarantines/release",
                  nlohmann::json{{"test", *rname}}, exitCode);
    if (!r) return;
    if (ra->json) return fmt::print("{}\n", r->dump(2));
    fmt::print("{}: quarantine ended; its failures fail jobs again\n", shown((*r)["test"]));
  });
}

}  // namespace boucle::cli
