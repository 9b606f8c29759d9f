// boucle agent (run a server's jobs on this machine), boucle agent drain NAME, boucle agents.
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <thread>

#include "agent/remote_agent.h"
#include "cli/client_api.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/names.h"
#include "os/files.h"

namespace boucle::cli {

namespace {

using nlohmann::json;

struct AgentArgs {
  std::string server;
  std::string tokenFile;
  std::string labels;
  int capacity = 1;
  std::string work = "/var/lib/boucle-agent";
  bool allowProcessJobs = false;
  std::string caFile;
};

Result<std::vector<std::string>> splitLabels(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string label = text.substr(start, comma - start);
    if (!validName(label))
      return Status::Invalid("--labels: '" + label +
                             "' is not a label (letters, digits, '-', "
                             "'_' and '.', separated by commas)");
    out.push_back(label);
    start = comma + 1;
  }
  return out;
}

int runAgentCommand(const AgentArgs& a) {
  std::string token;
  if (!a.tokenFile.empty()) {
    auto text = os::readFile(a.tokenFile);
    if (!text.ok()) {
      fmt::print(stderr, "boucle agent: --token-file: {}\n", text.status().message());
      return kExitUsage;
    }
    token = *text;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  }
  auto endpoint = endpointFrom(a.server, token);
  if (!endpoint.ok()) {
    fmt::print(stderr, "boucle agent: {}\n", endpoint.status().message());
    return kExitUsage;
  }
  if (endpoint->token.empty()) {
    fmt::print(stderr,
               "boucle agent: no token: give --token-file FILE (or $BOUCLE_TOKEN) holding a "
               "token with the agent role (boucle token add NAME --role agent)\n");
    return kExitUsage;
  }
  auto labels = splitLabels(a.labels);
  if (!labels.ok()) {
    fmt::print(stderr, "boucle agent: {}\n", labels.status().message());
    return kExitUsage;
  }
  agent::AgentOptions o;
  o.server = *endpoint;
  if (!a.caFile.empty()) o.server.caFile = a.caFile;
  o.labels = *labels;
  o.capacity = a.capacity;
  o.allowProcessJobs = a.allowProcessJobs;
  o.work = std::filesystem::absolute(a.work);
  if (!a.tokenFile.empty())
    o.hidden.push_back(std::filesystem::absolute(a.tokenFile).parent_path());
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  o.host = host;

  // SIGTERM and SIGINT stop the agent: its running jobs are cancelled and reported.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  // A server that hangs up mid-request is an error to retry, not a reason to die.
  ::signal(SIGPIPE, SIG_IGN);
  std::atomic<bool> stop{false};
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stopSignals, &sig);
    if (!stop) logInfo(std::string("stopping (") + strsignal(sig) + ")");
    stop = true;
  });
  logInfo(fmt::format("agent for {}://{}:{} ({} job(s) at once{}{}; work in {})",
                      o.server.tls ? "https" : "http", o.server.host, o.server.port, o.capacity,
                      o.labels.empty() ? "" : ", labels ", a.labels, o.work.string()));
  int code = agent::runAgent(o, stop);
  if (!stop) {
    stop = true;
    pthread_kill(signals.native_handle(), SIGTERM);
  }
  signals.join();
  return code;
}

int drainAgent(const ClientArgs& a, const std::string& name, bool undo) {
  int exitCode = kExitOk;
  auto r = call(a, "POST", "/api/agents/" + urlEncode(name) + "/drain", json{{"drain", !undo}},
                &exitCode);
  if (!r) return exitCode;
  if (a.json) {
    fmt::print("{}\n", r->dump(2));
  } else {
    fmt::print("agent {} {}\n", name,
               undo ? "takes jobs again" : "takes no new job; the ones it runs finish");
  }
  return kExitOk;
}

int listAgents(const ClientArgs& a) {
  int exitCode = kExitOk;
  auto r = call(a, "GET", "/api/agents", nullptr, &exitCode);
  if (!r) return exitCode;
  if (a.json) {
    fmt::print("{}\n", r->dump(2));
    return kExitOk;
  }
  if (r->empty()) {
    fmt::print("no agent has called this server yet\n");
    return kExitOk;
  }
  fmt::print("{:<20} {:<9} {:<24} {:<10} {:>7} {}\n", "NAME", "STATE", "LABELS", "VERSION",
             "RUNNING", "LAST SEEN");
  for (const auto& ag : *r) {
    std::string labels;
    for (const auto& l : ag["labels"]) labels += (labels.empty() ? "" : ",") + l.get<std::string>();
    fmt::print("{:<20} {:<9} {:<24} {:<10} {:>3}/{:<3} {}\n", ag["name"].get<std::string>(),
               ag["state"].get<std::string>(), labels.empty() ? "-" : labels,
               ag["version"].get<std::string>(), ag["running"].get<int64_t>(),
               ag["capacity"].get<int64_t>(), localTime(ag["seen_at"], "%Y-%m-%d %H:%M:%S"));
  }
  return kExitOk;
}

}  // namespace

void addAgentCommands(CLI::App& app, int* exitCode) {
  auto a = std::make_shared<AgentArgs>();
  auto cmd = app.add_subcommand(
      "agent", "Run a boucle server's jobs on this machine (a remote agent), or drain one");
  cmd->add_option("--server", a->server,
                  "Server URL, http:// or https:// (default: $BOUCLE_SERVER or "
                  "http://127.0.0.1:8080)");
  cmd->add_option("--ca-file", a->caFile,
                  "For https://: the authority's certificate (PEM) the server's is checked "
                  "against (default: $BOUCLE_CA_FILE, else the system's authorities)");
  cmd->add_option("--token-file", a->tokenFile,
                  "File holding a token with the agent role (default: $BOUCLE_TOKEN); never "
                  "given on the command line, where every user of the machine would see it");
  cmd->add_option("--labels", a->labels,
                  "What this machine offers, comma-separated (linux,arm64,gpu): jobs whose "
                  "runs-on it covers come here");
  cmd->add_option("--capacity", a->capacity, "Jobs at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--work", a->work, "Folder for jobs' workspaces, caches and downloads")
      ->capture_default_str();
  cmd->add_flag("--allow-process-jobs", a->allowProcessJobs,
                "Let jobs run as plain processes where their project allows it (they run as "
                "this agent's user and can read its token); without it every job is sandboxed");

  auto drain =
      cmd->add_subcommand("drain", "An agent takes no new job; the ones it runs finish (admins)");
  auto d = std::make_shared<ClientArgs>();
  auto name = std::make_shared<std::string>();
  auto undo = std::make_shared<bool>(false);
  drain->add_option("name", *name, "The agent (its token's name)")->required();
  drain->add_flag("--undo", *undo, "It takes jobs again");
  addClientOptions(drain, *d);
  drain->callback([d, name, undo, exitCode] { *exitCode = drainAgent(*d, *name, *undo); });
  cmd->callback([a, cmd, drain, exitCode] {
    if (cmd->got_subcommand(drain)) return;
    *exitCode = runAgentCommand(*a);
  });

  auto list = app.add_subcommand("agents", "The remote agents: labels, version, jobs, last seen");
  auto l = std::make_shared<ClientArgs>();
  addClientOptions(list, *l);
  list->callback([l, exitCode] { *exitCode = listAgents(*l); });
}

}  // namespace boucle::cli
