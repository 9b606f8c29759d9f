// The HTTP server under abuse, through real sockets: too many connections or log streams,
// clients that read nothing or hang up, wrong JSON, odd ranges, foreign Host names; and static
// files as a browser gets them.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

int connectTo(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}

std::string readFor(int s, int ms) {
  std::string got;
  pollfd p{s, POLLIN, 0};
  char buf[4096];
  while (::poll(&p, 1, ms) > 0) {
    ssize_t n = ::read(s, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

// The server's open descriptors: each connection it still holds is one.
size_t openFds(pid_t pid) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       it != fs::directory_iterator(); ++it)
    ++n;
  return n;
}

pid_t serverPid(const ServerProcess& s) {
  Output o = runCommand({"/usr/bin/pgrep", "-f", "--", "--data " + s.data().string()}, "/");
  return static_cast<pid_t>(std::atoi(o.out.c_str()));
}

class HttpAbuseTest : public ServerFixture {
 protected:
  void SetUp() override {}  // each test starts the server it needs
  Http get(const std::string& path, std::vector<std::string> headers = {}) {
    headers.push_back("Authorization: Bearer " + server_->token());
    return curl("GET", server_->url() + path, "", headers);
  }
};

TEST_F(HttpAbuseTest, ConnectionsBeyondTheLimitAre503AndTheServerGoesOn) {
  startServer({"--max-connections", "8"});
  size_t before = openFds(serverPid(*server_));  // its own: logs, database, listener
  std::vector<int> held;
  for (int i = 0; i < 8; ++i) held.push_back(connectTo(server_->port()));
  ASSERT_TRUE(waitFor([&] { return openFds(serverPid(*server_)) >= before + 8; }));
  int extra = connectTo(server_->port());
  EXPECT_THAT(readFor(extra, 3000), HasSubstr("503 Service Unavailable"));
  ::close(extra);
  for (int s : held) ::close(s);
  EXPECT_TRUE(waitFor([&] { return curl("GET", server_->url() + "/api/health").status == 200; }));
}

TEST_F(HttpAbuseTest, AClientThatReadsNothingOrHangsUpIsLetGo) {
  startServer({"--client-timeout", "2", "--max-streams-per-client", "20"});
  repo_.write(".boucle.yml",
              "jobs:\n  chatty:\n    run: |\n      echo first\n"
              "      while [ ! -e go-on ]; do sleep 0.05; done\n"
              "      head -c 20000000 /dev/zero | tr '\\0' x\n"
              "      while [ ! -e done ]; do sleep 0.05; done\n");
  repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ASSERT_TRUE(waitFor([&] { return client({"logs", "1/chatty"}).out == "first\n"; }));
  pid_t pid = serverPid(*server_);
  size_t before = openFds(pid);
  std::string request = "GET /api/runs/1/jobs/chatty/log?follow=1 HTTP/1.1\r\nHost: 127.0.0.1:" +
                        std::to_string(server_->port()) + "\r\nAuthorization: Bearer " +
                        server_->token() + "\r\n\r\n";
  auto follow = [&] {
    int s = connectTo(server_->port());
    (void)!::write(s, request.data(), request.size());
    EXPECT_THAT(readFor(s, 300), HasSubstr("first"));
    return s;
  };
  // Twenty followers of a quiet log hang up: a quiet log is no slow client (no timeout), so
  // only noticing the hang-up frees them, without waiting for another line.
  std::vector<int> gone;
  for (int i = 0; i < 20; ++i) gone.push_back(follow());
  ASSERT_TRUE(waitFor([&] { return openFds(pid) >= before + 20; }));
  // A 21st from the same address would hold one more descriptor for as long as it likes.
  int extra = connectTo(server_->port());
  (void)!::write(extra, request.data(), request.size());
  EXPECT_THAT(readFor(extra, 1000), HasSubstr("429 Too Many Requests"));
  ::close(extra);
  for (int s : gone) ::close(s);
  EXPECT_TRUE(waitFor([&] { return openFds(pid) <= before; }))
      << openFds(pid) << " descriptors, " << before << " before the followers";
  // One that stops reading while 20 MB come: its writes stall, and it is dropped.
  int stalled = follow();
  ASSERT_TRUE(waitFor([&] { return openFds(pid) >= before + 1; }))
      << openFds(pid) << " vs " << before;
  std::ofstream(workspace(1, "chatty") / "go-on") << "go";
  EXPECT_TRUE(waitFor([&] { return openFds(pid) <= before; }))
      << "the follower that reads nothing is still held";
  EXPECT_EQ(curl("GET", server_->url() + "/api/health").status, 200);
  ::close(stalled);
  std::ofstream(workspace(1, "chatty") / "done") << "go";
  EXPECT_EQ(waitForRun(1)["state"], "passed");
}

TEST_F(HttpAbuseTest, WrongJsonTypesAre400NotServerErrors) {
  startServer();
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  auto as = [&](const std::string& method, const std::string& path, const std::string& body) {
    return curl(method, server_->url() + path, body,
                {"Authorization: Bearer " + server_->token(), "Content-Type: application/json"});
  };
  for (auto [method, path, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/api/projects", R"({"name": 5, "url": "/x"})"},
           {"POST", "/api/projects", R"({"name": "p", "url": "/x", "branches": "main"})"},
           {"POST", "/api/projects", R"({"name": "p", "url": "/x", "poll_seconds": "60"})"},
           {"PATCH", "/api/projects/web", R"({"allow_process_jobs": "yes"})"},
           {"POST", "/api/projects/web/runs", R"({"ref": ["main"]})"},
           {"POST", "/api/tokens", R"({"name": "t", "roles": "ops"})"},
           {"POST", "/api/tokens", R"({"name": "t", "expires": 90})"},
           {"POST", "/api/projects/web/releases", R"({"run": "1"})"},
           {"POST", "/api/projects/web/deploys", R"({"version": 1, "env": ["dev"]})"},
           {"POST", "/api/projects/web/promote", R"({"from": 1})"},
           {"PUT", "/api/projects/web/environments/dev/values/url", R"({"value": 5})"},
           {"POST", "/api/projects", "[1, 2"},
       }) {
    Http r = as(method, path, body);
    EXPECT_EQ(r.status, 400) << method << " " << path << " " << body << " -> " << r.body;
  }
}

TEST_F(HttpAbuseTest, RangesAsRfc9110SaysAndForeignHostsRefused) {
  startServer({"--allowed-host", "ci.example"});
  repo_.write(".boucle.yml",
              "jobs:\n  b:\n    run: printf 0123456789 > out.bin\n    artifacts: [out.bin]\n");
  repo_.commit("c");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_EQ(client({"release", "web", "--version", "1.0.0"}).exitCode, 0);
  std::string art = "/api/projects/web/releases/1.0.0/artifacts/out.bin";
  Http part = get(art, {"Range: bytes=2-4"});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, "234");
  for (const char* whole : {"bytes=0-1,4-5", "items=0-3", "bytes=x-y", "bytes=5-2"}) {
    Http r = get(art, {std::string("Range: ") + whole});
    EXPECT_EQ(r.status, 200) << whole;
    EXPECT_EQ(r.body, "0123456789") << whole;
  }
  EXPECT_EQ(get(art, {"Range: bytes=20-"}).status, 416);
  // DNS rebinding: a page elsewhere reaching 127.0.0.1 under its own name.
  Http evil = get("/api/runs", {"Host: evil.example"});
  EXPECT_EQ(evil.status, 421);
  EXPECT_THAT(evil.body, HasSubstr("--allowed-host"));
  EXPECT_EQ(get("/api/runs", {"Host: ci.example:" + std::to_string(server_->port())}).status, 200);
  EXPECT_EQ(get("/api/runs", {"Host: localhost:" + std::to_string(server_->port())}).status, 200);
}

TEST_F(HttpAbuseTest, StaticFilesComePrecompressedWithValidatorsAndHeadAnswersAsGet) {
  startServer();
  Http page = curl("GET", server_->url() + "/", "", {"Accept-Encoding: gzip, br"});
  ASSERT_EQ(page.status, 200) << "build the UI first: make ui";
  EXPECT_EQ(page.header("content-encoding"), "br");
  EXPECT_EQ(page.header("vary"), "Accept-Encoding");
  std::string etag = page.header("etag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(
      curl("GET", server_->url() + "/", "", {"Accept-Encoding: gzip, br", "If-None-Match: " + etag})
          .status,
      304);
  Http plain = curl("GET", server_->url() + "/");
  EXPECT_THAT(plain.body, HasSubstr("<div id=\"app\">"));
  EXPECT_EQ(plain.header("content-encoding"), "");
  // HEAD on a raw socket (curl -I would not read a body if one came): the GET's headers, its
  // length included, and not one byte after them. The page is public: HEAD answers as GET.
  int s = connectTo(server_->port());
  std::string request = "HEAD / HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server_->port()) +
                        "\r\nConnection: close\r\n\r\n";
  (void)!::write(s, request.data(), request.size());
  std::string head = readFor(s, 2000);
  ::close(s);
  EXPECT_THAT(head, ::testing::StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(head, HasSubstr("Content-Length: " + std::to_string(plain.body.size()) + "\r\n"));
  auto end = head.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos) << head;
  EXPECT_EQ(head.size(), end + 4) << "a body came after the headers";
  EXPECT_EQ(curl("HEAD", server_->url() + "/api/runs").status, 401);
}

}  // namespace
}  // namespace boucle::testing
