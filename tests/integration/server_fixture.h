#pragma once
// A test with a real server on a free port and a git repository to point it at, and the calls
// the server's tests share: the client binary, the JSON API, waiting for a run to finish.

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness.h"
#include "server_harness.h"

namespace boucle::testing {

class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override { startServer(); }
  // A failure in a test that drives a server is explained by what the server said: its log's
  // end and its failed runs, with their reasons.
  // BOUCLE_TEST_SERVER_LOG=1 prints it after every test, failed or not.
  void TearDown() override {
    const char* always = std::getenv("BOUCLE_TEST_SERVER_LOG");
    if (!server_ || (!HasFailure() && !(always && *always))) return;
    std::string log = server_->log();
    std::cerr << "--- end of the server's log ---\n"
              << log.substr(log.size() > 4000 ? log.size() - 4000 : 0) << "\n";
    auto runs = api("/api/runs");
    if (!runs.is_object() || !runs.contains("runs")) return;
    for (const auto& r : runs["runs"]) {
      if (r.value("state", "") != "failed") continue;
      std::string one = api("/api/runs/" + std::to_string(r.value("id", 0))).dump();
      std::cerr << "--- failed run ---\n" << one.substr(0, 2000) << "\n";
    }
  }
  void startServer(std::vector<std::string> extraArgs = {}, std::filesystem::path data = {}) {
    if (data.empty()) data = repo_.scratch() / "server-data";
    server_ = std::make_unique<ServerProcess>(data, std::move(extraArgs));
    std::string log;
    ASSERT_TRUE(server_->start(&log)) << log;
  }
  Output client(std::vector<std::string> args) { return repo_.boucle(args, server_->clientEnv()); }
  nlohmann::json api(const std::string& path) {
    auto r = curl("GET", server_->url() + path, "", {"Authorization: Bearer " + server_->token()});
    return nlohmann::json::parse(r.body, nullptr, false);
  }
  std::string state(int64_t id) {
    return api("/api/runs/" + std::to_string(id)).value("state", "");
  }
  // Polls the API until the run has finished; returns it.
  nlohmann::json waitForRun(int64_t id) {
    nlohmann::json run;
    waitFor([&] {
      run = api("/api/runs/" + std::to_string(id));
      std::string s = run.value("state", "");
      return s != "queued" && s != "running" && !s.empty();
    });
    return run;
  }
  // A running job's workspace, as the server's host sees it. Jobs run in the sandbox, where
  // this folder is the only one they can write and the test's own files are out of sight: the
  // test and a job meet here.
  std::filesystem::path workspace(int64_t run, const std::string& job) const {
    return server_->data() / "runs" / std::to_string(run) / "ws" / job;
  }
  // A file in one of the project's `cache:` folders in the job's home ("" until one exists).
  std::filesystem::path cachedFile(const std::string& project, const std::string& rel) const {
    std::error_code ec;
    for (const auto& branch :
         std::filesystem::directory_iterator(server_->data() / "caches" / project, ec)) {
      // One flat folder per cache entry: "~/.state" is "_7e_2f.state".
      std::string entry = "~/" + rel.substr(0, rel.find('/'));
      std::string name;
      for (unsigned char c : entry) {
        if (std::isalnum(c) || c == '.' || c == '-') {
          name += static_cast<char>(c);
        } else {
          char buf[4];
          std::snprintf(buf, sizeof buf, "_%02x", c);
          name += buf;
        }
      }
      auto f = branch.path() / name / rel.substr(rel.find('/') + 1);
      if (std::filesystem::exists(f)) return f;
    }
    return {};
  }
  // `boucle trigger PROJECT`, then waits for that run (the caller knows its id).
  nlohmann::json triggerAndWait(const std::string& project, int64_t id) {
    EXPECT_EQ(client({"trigger", project}).exitCode, 0);
    return waitForRun(id);
  }

  // Whether `env` of `project` has had `count` deploys, the newest succeeded (polled).
  bool deploySucceeded(const std::string& project, const std::string& env, size_t count = 1) {
    return waitFor([&] {
      nlohmann::json d = api("/api/projects/" + project + "/deploys?env=" + env)["deploys"];
      return d.size() == count && d[0]["state"] == "succeeded";
    });
  }

  TempRepo repo_;
  std::unique_ptr<ServerProcess> server_;
};

}  // namespace boucle::testing
