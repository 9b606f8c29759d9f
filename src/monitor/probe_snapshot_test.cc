#include "monitor/probe_snapshot.h"

#include <gtest/gtest.h>

namespace boucle::monitor {
namespace {

TEST(ProbeSnapshotTest, WhatTheLeaderSaysReadsBackWholeAndGarbageReadsAsNothing) {
  ProbeStatus up;
  up.project = "web";
  up.env = "prod";
  up.monitor = "health";
  up.host = "h1";
  up.release = "1.2.0";
  up.kind = "http";
  up.everyMs = 1000;
  up.seen = true;
  up.verdict = Verdict::kFail;
  up.atMs = 1700000000000;
  up.latencyMs = 12;
  up.detail = "503 \"sick\"\n";
  up.streak = 2;
  up.incidentId = 7;
  up.passes = 10;
  up.failures = 3;
  up.noData = 1;
  up.sloAvailability = 0.995;
  up.sloP95Ms = 250;
  up.sloWindowMs = 86400000;
  up.burn = "page";
  ProbeStatus pending;
  pending.project = "api";
  pending.monitor = "port";
  std::vector<ProbeStatus> statuses;
  std::vector<std::string> problems;
  ASSERT_TRUE(
      parseSnapshot(snapshotJson({up, pending}, {"web/prod: no url"}), &statuses, &problems));
  ASSERT_EQ(statuses.size(), 2u);
  const auto& s = statuses[0];
  EXPECT_EQ(s.project, "web");
  EXPECT_EQ(s.host, "h1");
  EXPECT_EQ(s.verdict, Verdict::kFail);
  EXPECT_EQ(s.detail, "503 \"sick\"\n");
  EXPECT_EQ(s.incidentId, 7);
  EXPECT_EQ(s.failures, 3u);
  EXPECT_EQ(s.sloAvailability, 0.995);
  EXPECT_EQ(s.sloP95Ms, 250);
  EXPECT_EQ(s.burn, "page");
  EXPECT_EQ(stateOf(s), stateOf(up));
  EXPECT_FALSE(statuses[1].seen);
  EXPECT_FALSE(statuses[1].incidentId.has_value());
  EXPECT_EQ(problems, std::vector<std::string>{"web/prod: no url"});

  EXPECT_FALSE(parseSnapshot("{\"statuses\": [{\"project\": 1}]}", &statuses, &problems));
  EXPECT_TRUE(statuses.empty());
  EXPECT_FALSE(parseSnapshot("not json", &statuses, &problems));
}

}  // namespace
}  // namespace boucle::monitor
