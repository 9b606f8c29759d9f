#pragma once
// What every client command shares: its options, the API call, and checked downloads.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/encoding.h"
#include "core/status.h"

namespace CLI {
class App;
}

namespace boucle::cli {

struct ClientArgs {
  std::string server;
  std::string token;
  bool json = false;
};

// --server, --token and --json.
void addClientOptions(CLI::App* cmd, ClientArgs& a);

// Calls the API; prints the error, sets `*exitCode` and returns nullopt when it fails.
std::optional<nlohmann::json> call(const ClientArgs& a, const std::string& method,
                                   const std::string& target, const nlohmann::json& body,
                                   int* exitCode);

// A time from the API (ms since the epoch, or null: "") in local time, by strftime `format`.
std::string localTime(const nlohmann::json& ms, const char* format = "%Y-%m-%d %H:%M");

// Downloads the blob `sha` to DIR/PATH (PATH relative, no ".."), checking its SHA-256 before
// the file takes its name.
// A secret a command reads rather than takes on its command line (shell history, `ps`): from
// `file`, or standard input for "" or "-" (asking for `what` on a terminal). Its trailing line
// ends are not part of it; empty is Invalid.
Result<std::string> readSecretInput(const std::string& file, const std::string& what);

Status downloadArtifact(const ClientArgs& a, const std::string& path, const std::string& sha,
                        const std::string& dir);

}  // namespace boucle::cli
