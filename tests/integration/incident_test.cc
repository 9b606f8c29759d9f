// Incidents through the real server: opened, annotated and resolved by people, raised and
// resolved by Prometheus Alertmanager's webhook, each naming what was live, and counted by
// DORA's figures.
#include <gmock/gmock.h>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class IncidentTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    repo_.write(".boucle.yml", R"yml(jobs:
  build: {run: 'true'}
release: {branches: [main]}
environments:
  prod: {auto: true}
deploy:
  driver: command
  command: 'true'
)yml");
    repo_.commit("feat: the service", "Ada");
    Output add = client({"project", "add", "web", repo_.dir().string(), "--poll", "0"});
    ASSERT_EQ(add.exitCode, 0);
    auto at = add.out.find("webhook secret: ");
    ASSERT_NE(at, std::string::npos) << add.out;
    secret_ = add.out.substr(at + 16, add.out.find('\n', at) - at - 16);
    ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
    ASSERT_TRUE(deploySucceeded("web", "prod"));
  }
  std::string token(const std::string& name, const std::string& role) {
    Output o = client({"token", "add", name, "--role", role});
    EXPECT_EQ(o.exitCode, 0) << o.err;
    return o.out.substr(0, o.out.find('\n'));
  }
  Http alerts(const json& body, const std::string& bearer) {
    std::vector<std::string> headers;
    if (!bearer.empty()) headers.push_back("Authorization: Bearer " + bearer);
    return curl("POST", server_->url() + "/hooks/alertmanager/web", body.dump(), headers);
  }
  std::string secret_;
  static json alert(const std::string& status, const std::string& env = "prod") {
    json labels = {{"alertname", "HighErrorRate"}, {"severity", "page"}};
    if (!env.empty()) labels["env"] = env;
    return {{"version", "4"},
            {"status", status},
            {"alerts",
             {{{"status", status},
               {"labels", labels},
               {"annotations", {{"summary", "5xx above 1% for 5 minutes"}}},
               {"fingerprint", "8a3c1f"}}}}};
  }
};

TEST_F(IncidentTest, PeopleOpenAnnotateAndResolveOneThatNamesWhatWasLive) {
  Output opened = client({"incident", "open", "web", "prod", "checkout is down", "--json"});
  ASSERT_EQ(opened.exitCode, 0) << opened.all();
  json i = json::parse(opened.out);
  EXPECT_EQ(i["state"], "open");
  EXPECT_EQ(i["release"], "0.1.0");
  EXPECT_EQ(i["deploy_id"], 1);
  EXPECT_EQ(i["source"], "manual");
  std::string id = std::to_string(i["id"].get<int64_t>());
  EXPECT_EQ(client({"incident", "note", id, "the payment provider times out"}).exitCode, 0);
  Output resolved = client({"incident", "resolve", id, "failed over to the second provider"});
  ASSERT_EQ(resolved.exitCode, 0) << resolved.all();
  EXPECT_THAT(resolved.out, HasSubstr("resolved by initial admin token"));
  Output nowhere = client({"incident", "open", "web", "staging", "x"});
  EXPECT_NE(nowhere.exitCode, 0);
  EXPECT_THAT(nowhere.err, HasSubstr("no environment 'staging'"));
  Output again = client({"incident", "resolve", id});
  EXPECT_NE(again.exitCode, 0);
  EXPECT_THAT(again.err, HasSubstr("is not open"));

  json shown = json::parse(client({"incident", "show", id, "--json"}).out);
  ASSERT_EQ(shown["timeline"].size(), 3u);
  EXPECT_EQ(shown["timeline"][0]["kind"], "opened");
  EXPECT_EQ(shown["timeline"][1]["kind"], "note");
  EXPECT_EQ(shown["timeline"][1]["text"], "the payment provider times out");
  EXPECT_EQ(shown["timeline"][2]["kind"], "resolved");
  EXPECT_GE(shown["resolved_at_ms"].get<int64_t>(), shown["opened_at_ms"].get<int64_t>());

  // A viewer reads them and cannot open one.
  std::string viewer = token("vic", "viewer");
  Http asViewer =
      curl("POST", server_->url() + "/api/projects/web/incidents",
           json{{"env", "prod"}, {"text", "x"}}.dump(), {"Authorization: Bearer " + viewer});
  EXPECT_EQ(asViewer.status, 403);
  for (const char* action : {"/resolve", "/notes"}) {
    Http change = curl("POST", server_->url() + "/api/incidents/" + id + action,
                       json{{"text", "x"}}.dump(), {"Authorization: Bearer " + viewer});
    EXPECT_EQ(change.status, 403) << action;
  }
  EXPECT_EQ(curl("GET", server_->url() + "/api/projects/web/incidents", "",
                 {"Authorization: Bearer " + viewer})
                .status,
            200);

  // DORA counts it: the release live when it began failed, and recovered when it was resolved.
  json dora = api("/api/projects/web/dora?env=prod");
  const json& rows = dora["change_failure_rate"]["rows"];
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["cause"], "incident");
  EXPECT_EQ(rows[0]["incident_id"], i["id"]);
  EXPECT_EQ(rows[0]["recovery_ms"],
            shown["resolved_at_ms"].get<int64_t>() - shown["opened_at_ms"].get<int64_t>());
}

TEST_F(IncidentTest, AlertmanagerFiresAndResolvesOneWithTheProjectsSecret) {
  // The project's webhook secret is the credential: an API token, even an admin's, is not,
  // and the secret reaches nothing else (the API refuses it).
  std::string ops = token("olga", "ops");
  EXPECT_EQ(alerts(alert("firing"), "").status, 401);
  EXPECT_EQ(alerts(alert("firing"), ops).status, 401);
  EXPECT_EQ(alerts(alert("firing"), server_->token()).status, 401);
  EXPECT_EQ(curl("GET", server_->url() + "/api/projects/web/incidents", "",
                 {"Authorization: Bearer " + secret_})
                .status,
            401);
  EXPECT_EQ(curl("POST", server_->url() + "/hooks/alertmanager/nope", alert("firing").dump(),
                 {"Authorization: Bearer " + secret_})
                .status,
            401);
  ops = secret_;
  Http fired = alerts(alert("firing"), ops);
  ASSERT_EQ(fired.status, 200) << fired.body;
  json f = json::parse(fired.body);
  ASSERT_EQ(f["opened"].size(), 1u);
  // Alertmanager repeats a firing alert: the same incident stays open.
  json repeated = json::parse(alerts(alert("firing"), ops).body);
  EXPECT_TRUE(repeated["opened"].empty());
  EXPECT_THAT(repeated["ignored"][0].get<std::string>(), HasSubstr("is open"));
  // No environment named: nothing opened, and said why.
  json nowhere = json::parse(alerts(alert("firing", ""), ops).body);
  EXPECT_THAT(nowhere["ignored"][0].get<std::string>(), HasSubstr("no env"));
  EXPECT_EQ(alerts(json{{"status", "firing"}}, ops).status, 400);
  json odd = alert("firing");
  odd["alerts"][0]["labels"] = "not a label set";
  odd["alerts"].push_back(42);
  Http oddAnswer = alerts(odd, ops);
  EXPECT_EQ(oddAnswer.status, 200) << oddAnswer.body;  // ignored, not a server error
  // An environment the policy does not have: counted nowhere, so not opened.
  json production = alert("firing", "production");
  production["alerts"][0]["fingerprint"] = "5d20e7";
  json elsewhere = json::parse(alerts(production, ops).body);
  EXPECT_THAT(elsewhere["ignored"][0].get<std::string>(),
              HasSubstr("no environment 'production' in web's policy (prod)"));
  // A delivery takes at most 100 alerts.
  json many = alert("firing", "nowhere");
  for (int k = 0; k < 150; ++k) many["alerts"].push_back(many["alerts"][0]);
  json capped = json::parse(alerts(many, ops).body);
  EXPECT_THAT(capped["ignored"].back().get<std::string>(), HasSubstr("51 more alert(s)"));

  json resolved = json::parse(alerts(alert("resolved"), ops).body);
  EXPECT_EQ(resolved["resolved"], f["opened"]);
  Output list = client({"incidents", "web", "--json"});
  ASSERT_EQ(list.exitCode, 0) << list.all();
  json incidents = json::parse(list.out)["incidents"];
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0]["state"], "resolved");
  EXPECT_EQ(incidents[0]["source"], "alertmanager");
  EXPECT_EQ(incidents[0]["monitor"], "HighErrorRate");
  EXPECT_EQ(incidents[0]["title"], "5xx above 1% for 5 minutes");
  EXPECT_EQ(incidents[0]["release"], "0.1.0");
  EXPECT_EQ(incidents[0]["resolved_by"], "alertmanager");
  Output text = client({"incidents", "web"});
  EXPECT_THAT(text.out, HasSubstr("resolved"));
  EXPECT_THAT(text.out, HasSubstr("live when it began: 0.1.0 (deploy 1)"));
}

}  // namespace
}  // namespace boucle::testing
