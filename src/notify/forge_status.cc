#include "notify/forge_status.h"

#include <nlohmann/json.hpp>

#include "core/encoding.h"

namespace boucle::notify {

using nlohmann::json;

namespace {

bool isSha(const std::string& s) {
  if (s.size() != 40 && s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// HOST and PATH of a git URL (https://HOST/PATH, ssh://[user@]HOST[:port]/PATH,
// [user@]HOST:PATH), PATH without ".git" and slashes at its ends.
std::optional<std::pair<std::string, std::string>> hostAndPath(const std::string& url) {
  std::string rest, host;
  if (auto scheme = url.find("://"); scheme != std::string::npos) {
    rest = url.substr(scheme + 3);
    auto slash = rest.find('/');
    if (slash == std::string::npos) return std::nullopt;
    host = rest.substr(0, slash);
    rest = rest.substr(slash + 1);
    if (auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
    if (auto colon = host.find(':'); colon != std::string::npos) host = host.substr(0, colon);
  } else if (auto colon = url.find(':'); colon != std::string::npos && url[0] != '/') {
    host = url.substr(0, colon);
    rest = url.substr(colon + 1);
    if (auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  } else {
    return std::nullopt;  // a local path: no forge to tell
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  while (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
  if (rest.size() > 4 && rest.compare(rest.size() - 4, 4, ".git") == 0)
    rest.resize(rest.size() - 4);
  if (host.empty() || rest.empty()) return std::nullopt;
  return std::pair{host, rest};
}

// What the run says, in at most 140 characters (GitHub's limit): "build passed, 212 tests".
std::string description(const store::Run& run, const std::vector<store::JobRecord>& jobs) {
  int64_t tests = 0, failed = 0;
  std::string failedJob;
  for (const auto& j : jobs) {
    if (failedJob.empty() && (j.state == "failed" || j.state == "timed_out")) failedJob = j.name;
    if (j.testsJson.empty()) continue;
    json t = json::parse(j.testsJson, nullptr, false);
    if (!t.is_object()) continue;
    tests += t.value("tests", int64_t{0});
    failed += t.value("failures", int64_t{0}) + t.value("errors", int64_t{0});
  }
  std::string counted = tests == 0 ? "" : ", " + std::to_string(tests) + " tests";
  std::string text;
  switch (run.state) {
    case store::RunState::kQueued:
      text = "build queued";
      break;
    case store::RunState::kRunning:
      text = "build running";
      break;
    case store::RunState::kPassed:
      text = "build passed" + counted;
      break;
    case store::RunState::kFailed:
      text = "build failed";
      if (!failedJob.empty()) text += ": job " + failedJob;
      if (failed > 0)
        text += ", " + std::to_string(failed) + " of " + std::to_string(tests) + " tests failed";
      else if (failedJob.empty() && !run.reason.empty())
        text += ": " + run.reason;
      break;
    case store::RunState::kCancelled:
      text = "build cancelled";
      break;
    case store::RunState::kInterrupted:
      text = "build interrupted";
      break;
  }
  if (text.size() > 140) text = cutUtf8(std::move(text), 137) + "...";
  return text;
}

// Each forge's word for the run's state.
std::string stateWord(const std::string& forge, store::RunState s) {
  bool gitlab = forge == "gitlab";
  switch (s) {
    case store::RunState::kQueued:
      return "pending";
    case store::RunState::kRunning:
      return gitlab ? "running" : "pending";
    case store::RunState::kPassed:
      return "success";
    case store::RunState::kFailed:
      return gitlab ? "failed" : "failure";
    case store::RunState::kCancelled:
      return gitlab ? "canceled" : "error";
    case store::RunState::kInterrupted:
      return gitlab ? "failed" : "error";
  }
  return "error";
}

}  // namespace

Result<std::optional<ForgeTarget>> forgeTarget(const store::Project& p) {
  if (p.forge.empty()) return std::optional<ForgeTarget>();
  if (p.forge != "github" && p.forge != "gitlab" && p.forge != "gitea")
    return Status::Invalid("forge: github, gitlab or gitea");
  ForgeTarget t{p.forge, p.forgeApi, p.forgeRepo};
  if (t.api.empty() || t.repo.empty()) {
    auto told = hostAndPath(p.url);
    if (!told)
      return Status::Invalid("the forge's API and repository cannot be told from " + p.url +
                             ": give both (forge_api, forge_repo)");
    auto [host, path] = *told;
    if (t.repo.empty()) t.repo = path;
    if (t.api.empty()) {
      t.api = p.forge == "github"   ? (host == "github.com" ? "https://api.github.com"
                                                            : "https://" + host + "/api/v3")
              : p.forge == "gitlab" ? "https://" + host + "/api/v4"
                                    : "https://" + host + "/api/v1";
    }
  }
  while (!t.api.empty() && t.api.back() == '/') t.api.pop_back();
  // The token goes there: over TLS, or to this machine (a forge beside the server).
  bool loopback = t.api.starts_with("http://127.0.0.1:") ||
                  t.api.starts_with("http://127.0.0.1/") ||
                  t.api.starts_with("http://localhost:") ||
                  t.api.starts_with("http://localhost/") || t.api.starts_with("http://[::1]");
  if (!t.api.starts_with("https://") && !loopback)
    return Status::Invalid("forge_api: an https:// URL (http:// only to this machine)");
  if (t.forge != "gitlab" && std::count(t.repo.begin(), t.repo.end(), '/') != 1)
    return Status::Invalid("forge_repo: OWNER/NAME");
  return std::optional<ForgeTarget>(t);
}

std::optional<StatusRequest> statusFor(const ForgeTarget& target, const store::Run& run,
                                       const std::vector<store::JobRecord>& jobs,
                                       const std::string& runUrl) {
  // The commit the forge knows: a request's head (also for the merge, which only boucle has),
  // else the run's commit, or the exact commit a push or poll named while it is queued.
  std::string sha = run.isRequest() ? run.pr.head : !run.commit.empty() ? run.commit : run.ref;
  if (!isSha(sha)) return std::nullopt;
  StatusRequest r;
  r.state = stateWord(target.forge, run.state);
  // A request's runs have contexts of their own: a fork's request whose head is also a
  // branch's commit must not set its result over the branch's.
  std::string context = run.pr.merge      ? "boucle (merge)"
                        : run.isRequest() ? "boucle (pull request)"
                                          : "boucle";
  json body = {{"state", r.state}, {"target_url", runUrl}, {"description", description(run, jobs)}};
  if (target.forge == "gitlab") {
    body["name"] = context;
    if (!run.isRequest() && !run.branch.empty()) body["ref"] = run.branch;
    // An id stays as it is; a path is one URL segment, its slashes encoded.
    r.url = target.api + "/projects/" + urlEncode(target.repo) + "/statuses/" + sha;
  } else {
    body["context"] = context;
    r.url = target.api + "/repos/" + target.repo + "/statuses/" + sha;
  }
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

std::vector<std::string> forgeHeaders(const std::string& forge, const std::string& token) {
  if (forge == "gitlab") return {"PRIVATE-TOKEN: " + token};
  if (forge == "gitea") return {"Authorization: token " + token};
  return {"Authorization: Bearer " + token, "Accept: application/vnd.github+json",
          "X-GitHub-Api-Version: 2022-11-28"};
}

}  // namespace boucle::notify
