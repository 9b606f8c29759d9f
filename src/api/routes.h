#pragma once
// The REST API: one router (routes.cc) over the route files of each part, documented in
// docs/api.yaml.

#include <filesystem>
#include <functional>

#include "api/events.h"
#include "api/http.h"
#include "auth/secret_box.h"
#include "deploy/deployer.h"
#include "deploy/release_flow.h"
#include "monitor/watcher.h"
#include "scheduler/agent.h"
#include "store/store.h"

namespace boucle::api {

struct ApiContext {
  store::Store* store = nullptr;
  scheduler::Agent* agent = nullptr;
  std::filesystem::path dataDir;
  // runs/ and blobs/ when the servers share a folder (NFS); "" = dataDir.
  std::filesystem::path sharedDir;
  const std::filesystem::path& shared() const { return sharedDir.empty() ? dataDir : sharedDir; }
  bool severalServers = false;  // on PostgreSQL: other servers may run runs and answer calls
  bool publicRead = false;      // GET without a token
  const auth::SecretBox* secrets = nullptr;  // seals projects' credentials
  deploy::Deployer* deployer = nullptr;
  std::filesystem::path uiDir;  // the web UI's built files ("" when not installed)
  deploy::ReleaseFlow* releases = nullptr;
  // Told of each incident opened or resolved ("incident", "resolved"): notifications.
  std::function<void(const store::Incident&, const std::string& event)> onIncident;
  monitor::Watcher* watcher = nullptr;     // what the monitors said last (none in some tests)
  EventHub* events = nullptr;              // live events (GET /api/events)
  scheduler::AgentBoard* board = nullptr;  // remote agents' long polls and news
  Millis agentTimeout = std::chrono::seconds(60);  // an agent silent this long is lost
  uint64_t maxLogBytes = 0;    // an agent's job's log is cut there (0: no limit)
  bool secureCookies = false;  // reached over https (--url https://…): cookies say Secure
};

struct Api {
  // Every request: routing, then the route's access, then its handler.
  Handler handler;
  // Every request's head, before its body is read: refused at once when its token does not
  // allow the route. Uploads (POST /api/blobs[?sha256=HEX], and an agent's artifacts, POST
  // /api/agent/jobs/ID/blobs?sha256=HEX&epoch=N) are streamed into the blob store as they
  // arrive (no size limit, memory flat) and answered {sha256, size}.
  StreamingHandler streaming;
};
Api makeApi(const ApiContext& ctx);

}  // namespace boucle::api
