#pragma once
// `boucle agent`: runs a server's jobs on this machine. One long poll to the server is held open
// and answered the moment a job it can run is queued; each job it claims runs through the same
// engine and sandbox as the server's own jobs, its log spooled to disk and sent in pieces by
// byte offset (resumed from what the server acknowledged after any disconnect), its artifacts
// uploaded by hash (skipped when the server has them), its end reported with the claim's epoch.
// A server that stops answering is waited for: jobs go on, and their logs and ends are
// delivered when it is back.

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/http_client.h"

namespace boucle::agent {

struct AgentOptions {
  cli::Endpoint server;
  std::vector<std::string> labels;
  int capacity = 1;
  std::filesystem::path work;  // jobs' folders, the blob cache, caches
  std::string host;            // shown in `boucle agents`
  // Jobs may run as plain processes (as the agent's user, who can read its token and its other
  // jobs) where the server's project allows it too; else every job is sandboxed.
  bool allowProcessJobs = false;
  // Folders no job may see (the one holding the token file), besides `work` and $HOME.
  std::vector<std::filesystem::path> hidden;
};

// Runs until `stop` is set (SIGTERM, SIGINT): jobs still running are then cancelled and their
// ends reported. Returns the process's exit code.
int runAgent(const AgentOptions& options, const std::atomic<bool>& stop);

}  // namespace boucle::agent
