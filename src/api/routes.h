#pragma once
// The REST API: every route in one place (routes.cc), documented in docs/api.yaml.

#include <filesystem>

#include "api/http.h"
#include "auth/secret_box.h"
#include "deploy/deployer.h"
#include "scheduler/agent.h"
#include "store/store.h"

namespace boucle::api {

struct ApiContext {
  store::Store* store = nullptr;
  scheduler::Agent* agent = nullptr;
  std::filesystem::path dataDir;
  bool publicRead = false;                   // GET without a token
  const auth::SecretBox* secrets = nullptr;  // seals projects' credentials
  deploy::Deployer* deployer = nullptr;
  std::filesystem::path uiDir;  // the web UI's built files ("" when not installed)
};

// The whole API behind one handler: authentication first, then routing.
Handler makeApiHandler(const ApiContext& ctx);
// Uploads, streamed: POST /api/blobs[?sha256=HEX] stores the body in the blob store as it
// arrives (no size limit, memory flat) and answers {sha256, size}.
StreamingHandler makeUploadHandler(const ApiContext& ctx);

}  // namespace boucle::api
