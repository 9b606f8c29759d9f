// People against the real server: accounts an admin makes, signing in with a password (a
// session cookie and its CSRF token), the throttle on guessing, the tokens a person makes for
// themselves, and what disabling someone stops.
#include <gmock/gmock.h>

#include <fstream>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

constexpr const char* kPassword = "alice-correct-horse";

class PeopleTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    repo_.write(".boucle.yml", "jobs:\n  build: {run: 'echo built'}\n");
    repo_.commit("feat: first");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
    addPerson("alice", "developer", kPassword);
  }
  void addPerson(const std::string& name, const std::string& role, const std::string& password) {
    auto file = repo_.scratch() / ("password-" + name);
    std::ofstream(file) << password << "\n";
    Output add = client({"user", "add", name, "--role", role, "--password-file", file.string()});
    ASSERT_EQ(add.exitCode, 0) << add.all();
  }
  Http signIn(const std::string& name, const std::string& password) {
    return curl("POST", server_->url() + "/api/session",
                json{{"name", name}, {"password", password}}.dump(),
                {"Content-Type: application/json"});
  }
  // "boucle_session=SECRET" from a sign-in's Set-Cookie.
  static std::string cookieOf(const Http& r) {
    std::string c = r.header("Set-Cookie");
    return c.substr(0, c.find(';'));
  }
  Http as(const std::string& cookie, const std::string& method, const std::string& path,
          const std::string& body = "", const std::string& csrf = "") {
    std::vector<std::string> headers{"Cookie: " + cookie, "Content-Type: application/json"};
    if (!csrf.empty()) headers.push_back("X-CSRF-Token: " + csrf);
    return curl(method, server_->url() + path, body, headers);
  }
};

TEST_F(PeopleTest, APersonSignsInChangesThingsWithTheCsrfTokenAndSignsOut) {
  Http wrong = signIn("alice", "not-her-password");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_THAT(wrong.body, HasSubstr("wrong name or password"));
  EXPECT_EQ(signIn("nobody", kPassword).body, wrong.body);  // names cannot be probed

  Http in = signIn("alice", kPassword);
  ASSERT_EQ(in.status, 200) << in.body;
  std::string setCookie = in.header("Set-Cookie");
  EXPECT_THAT(setCookie, HasSubstr("HttpOnly"));
  EXPECT_THAT(setCookie, HasSubstr("SameSite=Strict"));
  EXPECT_THAT(setCookie, Not(HasSubstr("Secure")));  // plain http here
  std::string cookie = cookieOf(in);
  json session = json::parse(in.body);
  std::string csrf = session["csrf"];
  EXPECT_EQ(session["roles"], json::array({"developer"}));

  json me = json::parse(as(cookie, "GET", "/api/me").body);
  EXPECT_EQ(me["name"], "alice");
  EXPECT_EQ(me["csrf"], csrf);  // a reloaded page gets it again

  // A change needs the CSRF token beside the cookie: a page elsewhere can send the one, not
  // the other.
  Http forged = as(cookie, "POST", "/api/projects/web/runs", "{}");
  EXPECT_EQ(forged.status, 403);
  EXPECT_THAT(forged.body, HasSubstr("X-CSRF-Token"));
  EXPECT_EQ(as(cookie, "POST", "/api/projects/web/runs", "{}", "0000").status, 403);
  Http run = as(cookie, "POST", "/api/projects/web/runs", "{}", csrf);
  ASSERT_EQ(run.status, 201) << run.body;
  // Admins' routes stay theirs.
  EXPECT_EQ(as(cookie, "GET", "/api/users").status, 403);

  // Listed, with the current one marked; signing out ends it.
  json sessions = json::parse(as(cookie, "GET", "/api/sessions").body)["sessions"];
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0]["current"], true);
  EXPECT_EQ(sessions[0]["user"], "alice");
  Http out = as(cookie, "DELETE", "/api/session", "", csrf);
  EXPECT_EQ(out.status, 200) << out.body;
  EXPECT_EQ(as(cookie, "GET", "/api/me").status, 401);

  // Her password is kept as an Argon2id hash only (in the database or its write-ahead log).
  std::string db = readFile(server_->data() / "boucle.db");
  if (std::filesystem::exists(server_->data() / "boucle.db-wal"))
    db += readFile(server_->data() / "boucle.db-wal");
  EXPECT_THAT(db, Not(HasSubstr(kPassword)));
  EXPECT_THAT(db, HasSubstr("$argon2id$"));
  EXPECT_THAT(client({"user", "list", "--json"}).out, Not(HasSubstr("argon2")));
}

TEST_F(PeopleTest, GuessingIsThrottledPerAccount) {
  for (int i = 0; i < 5; ++i) EXPECT_EQ(signIn("alice", "guess-" + std::to_string(i)).status, 401);
  Http throttled = signIn("alice", kPassword);  // even the right one, for now
  EXPECT_EQ(throttled.status, 429);
  EXPECT_FALSE(throttled.header("Retry-After").empty());
  EXPECT_THAT(throttled.body, HasSubstr("too many failed sign-ins"));
}

TEST_F(PeopleTest, APersonsTokensActAsThemWithAtMostTheirRolesAndStopWithThem) {
  Http in = signIn("alice", kPassword);
  ASSERT_EQ(in.status, 200);
  std::string cookie = cookieOf(in);
  std::string csrf = json::parse(in.body)["csrf"];
  Http greedy = as(cookie, "POST", "/api/tokens",
                   json{{"name", "alice-root"}, {"roles", {"admin"}}}.dump(), csrf);
  EXPECT_EQ(greedy.status, 403);
  EXPECT_THAT(greedy.body, HasSubstr("at most their roles"));
  Http made = as(cookie, "POST", "/api/tokens", json{{"name", "alice-cli"}}.dump(), csrf);
  ASSERT_EQ(made.status, 201) << made.body;
  json token = json::parse(made.body);
  EXPECT_EQ(token["owner"], "alice");
  EXPECT_EQ(token["roles"], json::array({"developer"}));
  std::string bearer = "Authorization: Bearer " + token["token"].get<std::string>();

  // Through it she is herself: the audit log names her, not the token.
  Http rel = curl("POST", server_->url() + "/api/projects/web/runs", "{}", {bearer});
  ASSERT_EQ(rel.status, 201) << rel.body;
  waitForRun(json::parse(rel.body)["id"]);
  Http release = curl("POST", server_->url() + "/api/projects/web/releases", "{}", {bearer});
  ASSERT_EQ(release.status, 201) << release.body;
  json audit = api("/api/audit");
  ASSERT_FALSE(audit["entries"].empty());
  EXPECT_EQ(audit["entries"][0]["actor"], "alice");
  EXPECT_EQ(audit["entries"][0]["action"], "release");
  // She sees her own tokens, not others'.
  json mine = json::parse(curl("GET", server_->url() + "/api/tokens", "", {bearer}).body);
  ASSERT_EQ(mine["tokens"].size(), 1u);
  EXPECT_EQ(mine["tokens"][0]["name"], "alice-cli");

  // Disabled: her session and her token stop at once.
  ASSERT_EQ(client({"user", "disable", "alice"}).exitCode, 0);
  EXPECT_EQ(curl("GET", server_->url() + "/api/me", "", {bearer}).status, 401);
  EXPECT_EQ(as(cookie, "GET", "/api/me").status, 401);
  EXPECT_EQ(signIn("alice", kPassword).status, 401);
  ASSERT_EQ(client({"user", "disable", "alice", "--undo"}).exitCode, 0);
  EXPECT_EQ(curl("GET", server_->url() + "/api/me", "", {bearer}).status, 200);
}

TEST_F(PeopleTest, ANewPasswordEndsTheOtherSessions) {
  Http first = signIn("alice", kPassword);
  Http second = signIn("alice", kPassword);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(second.status, 200);
  std::string csrf = json::parse(second.body)["csrf"];
  Http wrongCurrent =
      as(cookieOf(second), "PUT", "/api/users/alice/password",
         json{{"password", "a-new-password-1"}, {"current_password", "nope"}}.dump(), csrf);
  EXPECT_EQ(wrongCurrent.status, 403);
  Http changed =
      as(cookieOf(second), "PUT", "/api/users/alice/password",
         json{{"password", "a-new-password-1"}, {"current_password", kPassword}}.dump(), csrf);
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(as(cookieOf(first), "GET", "/api/me").status, 401);
  EXPECT_EQ(as(cookieOf(second), "GET", "/api/me").status, 200);
  EXPECT_EQ(signIn("alice", "a-new-password-1").status, 200);
  // Nobody changes another's password but an admin.
  addPerson("bob", "developer", "bob-password-123");
  Http bob = signIn("bob", "bob-password-123");
  EXPECT_EQ(as(cookieOf(bob), "PUT", "/api/users/alice/password",
               json{{"password", "bobs-choice-12"}}.dump(), json::parse(bob.body)["csrf"])
                .status,
            403);
}

TEST_F(PeopleTest, AnotherSitesFormCannotSignInAndNamesAreOnePersonsOrOneServices) {
  // Login CSRF: a form elsewhere can post, but neither as JSON nor from the same origin.
  std::string body = json{{"name", "alice"}, {"password", kPassword}}.dump();
  EXPECT_EQ(
      curl("POST", server_->url() + "/api/session", body, {"Content-Type: text/plain"}).status,
      415);
  EXPECT_EQ(curl("POST", server_->url() + "/api/session", body,
                 {"Content-Type: application/json", "Sec-Fetch-Site: cross-site"})
                .status,
            403);
  // A service's token may not take a person's name, nor a person a service token's.
  Output clash = client({"token", "add", "alice", "--role", "ops"});
  EXPECT_NE(clash.exitCode, 0);
  EXPECT_THAT(clash.err, HasSubstr("a person is named alice"));
  ASSERT_EQ(client({"token", "add", "ci-bot", "--role", "developer"}).exitCode, 0);
  auto file = repo_.scratch() / "pw";
  std::ofstream(file) << "ci-bot-password-1\n";
  EXPECT_NE(client({"user", "add", "ci-bot", "--password-file", file.string()}).exitCode, 0);

  // An admin's reset ends what the old password could have made: sessions and tokens.
  Http in = signIn("alice", kPassword);
  ASSERT_EQ(in.status, 200);
  Http made = as(cookieOf(in), "POST", "/api/tokens", json{{"name", "alice-cli"}}.dump(),
                 json::parse(in.body)["csrf"]);
  ASSERT_EQ(made.status, 201) << made.body;
  std::string bearer =
      "Authorization: Bearer " + json::parse(made.body)["token"].get<std::string>();
  std::ofstream(file) << "alice-reset-password\n";
  ASSERT_EQ(client({"user", "password", "alice", "--password-file", file.string()}).exitCode, 0);
  EXPECT_EQ(curl("GET", server_->url() + "/api/me", "", {bearer}).status, 401);
  EXPECT_EQ(as(cookieOf(in), "GET", "/api/me").status, 401);
  EXPECT_EQ(signIn("alice", "alice-reset-password").status, 200);
}

}  // namespace
}  // namespace boucle::testing
