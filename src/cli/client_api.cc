// What every client command shares: its options, the API call, and checked downloads.
#include "cli/client_api.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <iterator>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "os/files.h"
#include "vault/blob_store.h"

namespace boucle::cli {

using nlohmann::json;

void addClientOptions(CLI::App* cmd, ClientArgs& a) {
  cmd->add_option("--server", a.server,
                  "Server URL, http:// or https:// (default: $BOUCLE_SERVER or "
                  "http://127.0.0.1:8080; $BOUCLE_CA_FILE: the authority an https server's "
                  "certificate is checked against, else the system's)");
  cmd->add_option("--token", a.token, "API token (default: $BOUCLE_TOKEN)");
  cmd->add_flag("--json", a.json, "Print the server's JSON answer");
}

// Calls the API; prints the error and returns nullopt when it fails.
std::optional<json> call(const ClientArgs& a, const std::string& method, const std::string& target,
                         const json& body, int* exitCode) {
  auto e = endpointFrom(a.server, a.token);
  if (!e.ok()) {
    fmt::print(stderr, "boucle: {}\n", e.status().message());
    *exitCode = kExitUsage;
    return std::nullopt;
  }
  auto r = httpCall(*e, method, target, body.is_null() ? "" : body.dump());
  if (!r.ok()) {
    fmt::print(stderr, "boucle: {}\n", r.status().message());
    *exitCode = kExitFailed;
    return std::nullopt;
  }
  json j = json::parse(r->body, nullptr, false);
  if (r->status >= 400) {
    std::string msg =
        j.is_object() && j.contains("error") ? j["error"].get<std::string>() : r->body;
    fmt::print(stderr, "boucle: {} (HTTP {})\n", msg, r->status);
    *exitCode = kExitFailed;
    return std::nullopt;
  }
  *exitCode = kExitOk;
  return j;
}

Result<std::string> readSecretInput(const std::string& file, const std::string& what) {
  std::string text;
  if (file.empty() || file == "-") {
    if (::isatty(0)) fmt::print(stderr, "{} (then Enter and Ctrl-D): ", what);
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    auto r = os::readFile(file);
    if (!r.ok()) return r.status();
    text = *r;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return Status::Invalid("an empty " + what + " (give it on standard input)");
  return text;
}

Status downloadArtifact(const ClientArgs& a, const std::string& path, const std::string& sha,
                        const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path rel(path);
  if (rel.is_absolute() || rel.empty()) return Status::Invalid("refusing artifact path " + path);
  for (const auto& part : rel) {
    if (part == "..") return Status::Invalid("refusing artifact path " + path);
  }
  auto e = endpointFrom(a.server, a.token);
  if (!e.ok()) return e.status();
  fs::path dest = fs::path(dir) / rel;
  fs::path tmp = dest;
  tmp += ".part";
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  auto hash = vault::StreamHash::create();
  if (!hash.ok()) return hash.status();
  // Hashed as it is written, in the pieces it arrives in: the file is never read back.
  os::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) return errnoStatus("create " + tmp.string(), errno);
  Status written = Status::Ok();
  auto status = httpStream(*e, "/api/blobs/" + sha, [&](std::string_view piece) {
    hash->update(piece);
    if (written.ok()) written = os::writeAll(fd.get(), piece);
    return true;
  });
  fd.reset();
  if (!status.ok() || *status != 200 || !written.ok()) {
    fs::remove(tmp, ec);
    if (!written.ok()) return written;
    return status.ok() ? Status::Io("download of " + path + ": HTTP " + std::to_string(*status))
                       : status.status();
  }
  if (hash->hex() != sha) {
    fs::remove(tmp, ec);
    return Status::Io(path + ": the downloaded content does not match its SHA-256");
  }
  fs::rename(tmp, dest, ec);
  if (ec) return errnoStatus("rename to " + dest.string(), ec.value());
  return Status::Ok();
}

std::string localTime(const json& ms, const char* format) {
  if (!ms.is_number()) return "";
  std::time_t t = ms.get<int64_t>() / 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

}  // namespace boucle::cli
