// What each role reaches through the real server's API, tried with each kind of token: a
// viewer, a developer, a revoked or expired token, none at all.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

class AccessTest : public ServerFixture {
 protected:
  std::string makeToken(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"token", "add", name};
    args.insert(args.end(), extra.begin(), extra.end());
    Output o = client(args);
    EXPECT_EQ(o.exitCode, 0) << o.err;
    return o.out.substr(0, o.out.find('\n'));
  }
  Http as(const std::string& token, const std::string& method, const std::string& path,
          const std::string& body = "") {
    return curl(method, server_->url() + path, body, {"Authorization: Bearer " + token});
  }
};

// Sends `head` alone on a fresh connection and returns what the server answers within
// `waitMs` ("" if nothing): the body the head announces is never sent.
std::string headOnly(int port, const std::string& head, int waitMs) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return "";
  (void)!::write(s, head.data(), head.size());
  std::string got;
  pollfd p{s, POLLIN, 0};
  char buf[4096];
  while (::poll(&p, 1, waitMs) > 0) {
    ssize_t n = ::read(s, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(s);
  return got;
}

TEST_F(AccessTest, ATokenMadeWithoutRolesOnlyReads) {
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  Output made = client({"token", "add", "hasty"});
  EXPECT_THAT(made.err, HasSubstr("(viewer)"));
  std::string hasty = made.out.substr(0, made.out.find('\n'));
  EXPECT_EQ(as(hasty, "GET", "/api/runs").status, 200);
  EXPECT_EQ(as(hasty, "POST", "/api/projects/web/runs", "{}").status, 403);
  EXPECT_EQ(as(hasty, "POST", "/api/tokens", "{\"name\":\"x\",\"roles\":[\"admin\"]}").status, 403);
}

TEST_F(AccessTest, TokensAreListedWithoutTheirSecretsRevokedAndExpire) {
  std::string dev = makeToken("dana", {"--role", "developer"});
  std::string brief = makeToken("brief", {"--role", "developer", "--expires", "1s"});
  EXPECT_EQ(as(dev, "GET", "/api/me").status, 200);
  Output list = client({"token", "list"});
  ASSERT_EQ(list.exitCode, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("dana"));
  EXPECT_THAT(list.out, HasSubstr("developer"));
  EXPECT_THAT(list.out, Not(HasSubstr(dev)));
  json tokens = api("/api/tokens");
  ASSERT_EQ(tokens["tokens"].size(), 3u);
  EXPECT_THAT(tokens.dump(), Not(HasSubstr(dev.substr(4))));
  EXPECT_THAT(tokens.dump(), Not(HasSubstr("hash")));
  // A developer may neither list nor make nor revoke tokens.
  EXPECT_EQ(as(dev, "GET", "/api/tokens").status, 403);
  EXPECT_EQ(as(dev, "DELETE", "/api/tokens/brief").status, 403);
  EXPECT_EQ(client({"token", "add", "dana"}).exitCode, 1);  // names are unique

  Output revoked = client({"token", "revoke", "dana"});
  ASSERT_EQ(revoked.exitCode, 0) << revoked.err;
  Http after = as(dev, "GET", "/api/me");
  EXPECT_EQ(after.status, 401);
  EXPECT_THAT(after.body, HasSubstr("unknown or revoked"));
  EXPECT_EQ(client({"token", "revoke", "dana"}).exitCode, 1);
  // The expiring one is refused once its second is up (polled, not slept).
  EXPECT_TRUE(waitFor([&] { return as(brief, "GET", "/api/me").status == 401; }));
  EXPECT_THAT(as(brief, "GET", "/api/me").body, HasSubstr("has expired"));
  json audit = api("/api/audit");
  EXPECT_EQ(audit["entries"][0]["action"], "token.revoke");
  EXPECT_EQ(audit["entries"][0]["target"], "dana");
}

TEST_F(AccessTest, TheInitialAdminTokensFileGoesOnceAnotherAdminExists) {
  fs::path file = server_->data() / "initial-admin-token";
  ASSERT_TRUE(fs::exists(file));
  makeToken("ops-bot", {"--role", "ops"});
  EXPECT_TRUE(fs::exists(file));  // not an admin: the file is still the only way in
  std::string root = makeToken("root", {"--role", "admin"});
  EXPECT_FALSE(fs::exists(file));
  EXPECT_EQ(as(root, "GET", "/api/tokens").status, 200);
  // Every admin token lost: an operator with the data folder makes one.
  Output fresh = runCommand(
      {BOUCLE_BIN, "admin-token", "--data", server_->data().string(), "--name", "break-glass"},
      repo_.dir());
  ASSERT_EQ(fresh.exitCode, 0) << fresh.err;
  std::string glass = fresh.out.substr(0, fresh.out.find('\n'));
  Http me = as(glass, "GET", "/api/me");
  EXPECT_EQ(me.status, 200);
  EXPECT_THAT(me.body, HasSubstr("break-glass"));
  EXPECT_THAT(me.body, HasSubstr("admin"));
  EXPECT_EQ(api("/api/audit")["entries"][0]["actor"], "admin-token command");
  // A restart does not bring the file back.
  EXPECT_EQ(server_->stop(), 0);
  std::string log;
  ASSERT_TRUE(server_->start(&log)) << log;
  EXPECT_FALSE(fs::exists(file));
}

TEST_F(AccessTest, OnlyAdminsSeeTheWebhookSecretOrChangeTheSetup) {
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0",
                    "--webhook-secret", "hook-s3cret"})
                .exitCode,
            0);
  std::string viewer = makeToken("vic");
  std::string dev = makeToken("dana", {"--role", "developer"});
  for (const auto& t : {viewer, dev}) {
    Http p = as(t, "GET", "/api/projects/web");
    EXPECT_EQ(p.status, 200);
    EXPECT_THAT(p.body, Not(HasSubstr("hook-s3cret")));
    EXPECT_THAT(p.body, HasSubstr("\"webhook_secret_set\":true"));
    EXPECT_THAT(as(t, "GET", "/api/projects").body, Not(HasSubstr("hook-s3cret")));
    EXPECT_EQ(as(t, "PATCH", "/api/projects/web", "{\"allow_process_jobs\":true}").status, 403);
    EXPECT_EQ(as(t, "DELETE", "/api/projects/web").status, 403);
    EXPECT_EQ(
        as(t, "PUT", "/api/projects/web/environments/prod/values/url", "{\"value\":\"x\"}").status,
        403);
  }
  EXPECT_EQ(api("/api/projects/web")["webhook_secret"], "hook-s3cret");
  // Settings are typed: a wrong type is refused, not half applied.
  Http bad = curl("PATCH", server_->url() + "/api/projects/web", "{\"poll_seconds\":\"often\"}",
                  {"Authorization: Bearer " + server_->token()});
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("poll_seconds"));
}

TEST_F(AccessTest, ARequestItsTokenDoesNotAllowIsRefusedBeforeItsBodyArrives) {
  std::string viewer = makeToken("vic");
  // Heads announcing a body (under the size limit) that never comes: refused at once, from the
  // head alone, instead of waiting for the body.
  for (const auto& auth : std::vector<std::string>{"", "Authorization: Bearer bcl_forged\r\n",
                                                   "Authorization: Bearer " + viewer + "\r\n"}) {
    std::string head = "POST /api/projects HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                       "Content-Type: application/json\r\nContent-Length: 500000\r\n\r\n";
    std::string answer = headOnly(server_->port(), head, 3000);
    EXPECT_THAT(answer, ::testing::AnyOf(HasSubstr("HTTP/1.1 401"), HasSubstr("HTTP/1.1 403")))
        << auth;
  }
}

}  // namespace
}  // namespace boucle::testing
