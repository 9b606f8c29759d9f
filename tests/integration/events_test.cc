// Live events through the real server: GET /api/events as Server-Sent Events, read by curl as a
// browser's EventSource would. A run, its jobs, the deploy it sets going and an incident are
// each told as they happen, filtered by project; a client that reconnects with Last-Event-ID
// gets what it missed, or a reset; `boucle trigger --wait` follows a run to its end.
#include <gmock/gmock.h>
#include <signal.h>

#include <regex>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;
namespace fs = std::filesystem;

class EventsTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    repo_.write(".boucle.yml", R"yml(jobs:
  build: {run: 'echo built'}
  test: {run: 'test ! -e BROKEN', needs: [build]}
release: {branches: [main]}
environments:
  prod: {auto: true}
deploy:
  driver: command
  command: 'true'
)yml");
    repo_.commit("feat: the service", "Ada");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
    ASSERT_EQ(client({"project", "add", "other", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  }
  void TearDown() override {
    for (pid_t p : readers_) {
      ::kill(p, SIGTERM);
      waitExit(p);
    }
    ServerFixture::TearDown();
  }
  // curl holding GET /api/events open, what it reads going to a file.
  fs::path subscribe(const std::string& query, const std::vector<std::string>& headers = {},
                     std::string token = "") {
    if (token.empty()) token = server_->token();
    fs::path out = repo_.scratch() / ("events-" + std::to_string(readers_.size()) + ".txt");
    std::vector<std::string> argv = {"/usr/bin/curl", "-sN", "-o",
                                     out.string(),    "-H",  "Authorization: Bearer " + token};
    for (const auto& h : headers) {
      argv.push_back("-H");
      argv.push_back(h);
    }
    argv.push_back(server_->url() + "/api/events" + query);
    readers_.push_back(startProcess(argv, repo_.scratch(), repo_.scratch() / "curl.log"));
    // Open once the server's first piece came.
    EXPECT_TRUE(waitFor([&] { return readFile(out).find("retry: 3000") != std::string::npos; }))
        << readFile(repo_.scratch() / "curl.log");
    return out;
  }
  // Waits until `file` holds `text`.
  bool saw(const fs::path& file, const std::string& text) {
    return waitFor([&] { return readFile(file).find(text) != std::string::npos; });
  }
  // The events in `file`: {type, data}.
  static std::vector<std::pair<std::string, json>> events(const fs::path& file) {
    std::vector<std::pair<std::string, json>> out;
    std::string text = readFile(file);
    std::regex frame("event: ([a-z]+)\ndata: ([^\n]*)\n\n");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), frame);
         it != std::sregex_iterator(); ++it) {
      out.emplace_back((*it)[1], json::parse((*it)[2].str(), nullptr, false));
    }
    return out;
  }
  std::vector<pid_t> readers_;
};

TEST_F(EventsTest, TheChainsMovesAreToldAsTheyHappenToThoseWhoAsked) {
  fs::path all = subscribe("");
  fs::path web = subscribe("?project=web");
  fs::path other = subscribe("?project=other");

  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_TRUE(deploySucceeded("web", "prod"));
  ASSERT_TRUE(saw(web, "\"state\":\"succeeded\"")) << readFile(web);
  Output opened = client({"incident", "open", "web", "prod", "the checkout is slow"});
  ASSERT_EQ(opened.exitCode, 0) << opened.all();
  ASSERT_TRUE(saw(web, "event: incident")) << readFile(web);

  // The run from queued to passed, its jobs, the deploy it set going, the incident.
  std::vector<std::string> runStates, jobMoves, deployStates;
  for (const auto& [type, data] : events(web)) {
    ASSERT_TRUE(data.is_object()) << type;
    EXPECT_EQ(data["project"], "web");
    if (type == "run") runStates.push_back(data["state"]);
    if (type == "job")
      jobMoves.push_back(data["name"].get<std::string>() + " " + data["state"].get<std::string>());
    if (type == "deploy") deployStates.push_back(data["state"]);
    if (type == "incident") {
      EXPECT_EQ(data["title"], "the checkout is slow");
      EXPECT_EQ(data["state"], "open");
      EXPECT_EQ(data["env"], "prod");
    }
  }
  EXPECT_EQ(runStates.front(), "queued");
  EXPECT_EQ(runStates.back(), "passed");
  EXPECT_THAT(runStates, ::testing::Contains("running"));
  EXPECT_THAT(jobMoves, ::testing::IsSupersetOf(
                            {"build running", "build passed", "test running", "test passed"}));
  EXPECT_THAT(deployStates, ::testing::IsSupersetOf({"queued", "running", "succeeded"}));

  // Everyone's stream has them too; the other project's has none of them.
  ASSERT_TRUE(saw(all, "event: incident"));
  EXPECT_EQ(events(all).size(), events(web).size());
  EXPECT_TRUE(events(other).empty()) << readFile(other);
  // Each event has an id a client may resume from.
  EXPECT_THAT(readFile(web), ::testing::ContainsRegex("id: [0-9]+\nevent: run\n"));
}

TEST_F(EventsTest, AClientThatReconnectsGetsWhatItMissedOrAReset) {
  fs::path first = subscribe("?project=web");
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  // Everything the run set going has happened: its release's deploy is the last event.
  ASSERT_TRUE(deploySucceeded("web", "prod"));
  ASSERT_TRUE(saw(first, "\"state\":\"succeeded\""));
  std::smatch m;
  std::string text = readFile(first);
  ASSERT_TRUE(std::regex_search(text, m, std::regex("id: ([0-9]+)\nevent: run\n")));
  std::string firstId = m[1];

  // Back with the first event's id: everything after it again, in order, then live.
  fs::path resumed = subscribe("?project=web", {"Last-Event-ID: " + firstId});
  ASSERT_TRUE(saw(resumed, "\"state\":\"succeeded\"")) << readFile(resumed);
  EXPECT_EQ(events(resumed).size(), events(first).size() - 1);
  EXPECT_THAT(readFile(resumed), Not(HasSubstr("id: " + firstId + "\n")));

  // An id this server never gave (another process's): reload.
  fs::path stale = subscribe("?project=web", {"Last-Event-ID: 5"});
  ASSERT_TRUE(saw(stale, "event: reset\n")) << readFile(stale);

  Http bad = curl("GET", server_->url() + "/api/events", "",
                  {"Authorization: Bearer " + server_->token(), "Last-Event-ID: x1"});
  EXPECT_EQ(bad.status, 400);
}

TEST_F(EventsTest, OnlyReadersReadThem) {
  EXPECT_EQ(curl("GET", server_->url() + "/api/events").status, 401);
  Output made = client({"token", "add", "scraper", "--role", "metrics"});
  std::string scraper = made.out.substr(0, made.out.find('\n'));
  EXPECT_EQ(
      curl("GET", server_->url() + "/api/events", "", {"Authorization: Bearer " + scraper}).status,
      403);
  EXPECT_EQ(curl("GET", server_->url() + "/api/events?project=ghost", "",
                 {"Authorization: Bearer " + server_->token()})
                .status,
            404);
  Output viewer = client({"token", "add", "vic", "--role", "viewer"});
  fs::path seen = subscribe("", {}, viewer.out.substr(0, viewer.out.find('\n')));
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  EXPECT_TRUE(saw(seen, "event: run\n"));
}

TEST_F(EventsTest, TriggerWaitFollowsARunToItsEnd) {
  Output passed = client({"trigger", "web", "--wait"});
  EXPECT_EQ(passed.exitCode, 0) << passed.all();
  EXPECT_THAT(passed.out, HasSubstr("run 1 queued (web #1, main)\n"));
  EXPECT_THAT(passed.out, ::testing::ContainsRegex("  build +passed"));
  EXPECT_THAT(passed.out, ::testing::ContainsRegex("  test +passed"));
  EXPECT_THAT(passed.out, ::testing::EndsWith("run 1 passed\n"));

  repo_.write("BROKEN", "1\n");
  repo_.commit("fix: break it", "Ada");
  Output failed = client({"trigger", "web", "--wait"});
  EXPECT_EQ(failed.exitCode, 1) << failed.all();
  EXPECT_THAT(failed.out, ::testing::ContainsRegex("  test +failed"));
  EXPECT_THAT(failed.out, HasSubstr("run 2 failed"));
}

}  // namespace
}  // namespace boucle::testing
