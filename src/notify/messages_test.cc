#include "notify/messages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace boucle::notify {
namespace {

using ::testing::HasSubstr;

RunFacts brokenRun() {
  RunFacts f;
  f.run.id = 7;
  f.run.number = 3;
  f.run.project = "web";
  f.run.branch = "main";
  f.run.commit = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d";
  f.run.author = "Mallory";
  f.run.subject = "refactor: simplify\r\nBcc: everyone@example.com";
  f.run.state = store::RunState::kFailed;
  f.run.event = "broken";
  f.run.brokenSince = 7;
  f.brokenSince = f.run;
  return f;
}

pipeline::Notification rule(std::vector<std::string> on, pipeline::NotifyChannel ch,
                            std::vector<std::string> targets) {
  pipeline::Notification n;
  n.on = std::move(on);
  n.channel = ch;
  n.targets = std::move(targets);
  return n;
}

TEST(Messages, ARunRaisesItsStateAndItsChange) {
  auto f = brokenRun();
  EXPECT_EQ(eventsOf(f.run), (std::vector<std::string>{"failed", "broken"}));
  f.run.state = store::RunState::kPassed;
  f.run.event = "";
  EXPECT_EQ(eventsOf(f.run), (std::vector<std::string>{"succeeded"}));
  f.run.state = store::RunState::kCancelled;
  EXPECT_TRUE(eventsOf(f.run).empty());
}

TEST(Messages, PlansOneDeliveryPerMatchingRuleEventAndTarget) {
  auto rules = std::vector<pipeline::Notification>{
      rule({"broken", "fixed"}, pipeline::NotifyChannel::kWebhook, {"http://a/1", "http://a/2"}),
      rule({"fixed"}, pipeline::NotifyChannel::kSlack, {"http://s"}),
      rule({"failed", "broken"}, pipeline::NotifyChannel::kEmail, {"team@example.com"})};
  auto d = plan(rules, brokenRun(), "ci@example.com", 1000);
  ASSERT_EQ(d.size(), 4u);  // webhook x2 (broken), e-mail for failed and for broken
  EXPECT_EQ(d[0].channel, "email");
  EXPECT_EQ(d[0].event, "failed");
  EXPECT_EQ(d[1].target, "http://a/1");
  auto body = nlohmann::json::parse(d[1].payload);
  EXPECT_EQ(body["event"], "broken");
  EXPECT_EQ(body["run"]["author"], "Mallory");
  EXPECT_THAT(body["text"].get<std::string>(),
              HasSubstr("web main broken by 1a2b3c4d5e (Mallory)"));
}

TEST(Messages, EmailHeadersCannotBeInjectedThroughCommitData) {
  std::string mail = emailMessage("broken", brokenRun(), "ci@example.com", "team@example.com", 0);
  auto headersEnd = mail.find("\r\n\r\n");
  std::string headers = mail.substr(0, headersEnd);
  EXPECT_THAT(headers, HasSubstr("Subject: [boucle] web main broken by 1a2b3c4d5e (Mallory): "
                                 "refactor: simplify  Bcc: everyone@example.com"));
  EXPECT_EQ(headers.find("\r\nBcc:"), std::string::npos);
  EXPECT_THAT(headers, HasSubstr("Date: Thu, 01 Jan 1970 00:00:00 +0000"));
}

}  // namespace
}  // namespace boucle::notify
