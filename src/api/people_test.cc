#include "api/people.h"

#include <gtest/gtest.h>

namespace boucle::api {
namespace {

TEST(People, TheSessionCookieIsFoundAmongOthers) {
  Request r;
  r.headers["cookie"] = "theme=dark; boucle_session=abc123; other=x";
  EXPECT_EQ(sessionCookie(r), "abc123");
  r.headers["cookie"] = "boucle_sessionx=no; xboucle_session=no";
  EXPECT_EQ(sessionCookie(r), "");
  r.headers.clear();
  EXPECT_EQ(sessionCookie(r), "");
}

TEST(People, TheCsrfTokenIsTheSessionsOwnAndTheCookieIsLockedDown) {
  EXPECT_EQ(csrfFor("a"), csrfFor("a"));
  EXPECT_NE(csrfFor("a"), csrfFor("b"));
  EXPECT_EQ(csrfFor("a").size(), 64u);  // a SHA-256 in hex: the secret cannot be read back
  EXPECT_EQ(sessionSetCookie("s3", false), "boucle_session=s3; Path=/; HttpOnly; SameSite=Strict");
  EXPECT_EQ(sessionSetCookie("", true),
            "boucle_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure");
}

TEST(People, GuessesWaitLongerAndLongerAfterFive) {
  SignInThrottle t;
  std::vector<std::string> keys{"name:alice", "address:10.0.0.1"};
  int64_t now = 1'000'000;
  for (int i = 0; i < 4; ++i) t.failed(keys, now);
  EXPECT_EQ(t.wait(keys, now), 0);
  t.failed(keys, now);
  EXPECT_EQ(t.wait(keys, now), 1);  // the fifth: 1 s
  t.failed(keys, now);
  EXPECT_EQ(t.wait(keys, now), 2);  // then 2 s
  EXPECT_EQ(t.wait(keys, now + 2000), 0);
  // The address alone still counts for another name.
  EXPECT_EQ(t.wait({"name:bob", "address:10.0.0.1"}, now), 2);
  t.succeeded("name:alice");
  EXPECT_EQ(t.wait({"name:alice"}, now), 0);
  // Failures older than the window are forgotten.
  EXPECT_EQ(t.wait({"address:10.0.0.1"}, now + 16 * 60 * 1000), 0);
}

}  // namespace
}  // namespace boucle::api
