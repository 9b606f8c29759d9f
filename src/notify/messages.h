#pragma once
// What is sent, and to whom: pure functions from a judged run and the pipeline's `notify`
// rules to deliveries (webhook JSON, Slack/Mattermost message, e-mail).

#include <optional>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"
#include "store/store.h"

namespace boucle::notify {

struct RunFacts {
  store::Run run;
  std::optional<store::Run> brokenSince;  // the first failing run of the streak, if any
};

// The events a finished run raises: "failed"/"succeeded", plus "broken"/"fixed" on a change.
std::vector<std::string> eventsOf(const store::Run& run);

// One delivery per rule, event and target. `mailFrom` goes into e-mails' From header.
// `only`: just this event (a "broken" that waited for bisection) instead of the run's events.
std::vector<store::Delivery> plan(const std::vector<pipeline::Notification>& rules,
                                  const RunFacts& facts, const std::string& mailFrom, int64_t nowMs,
                                  const std::string& only = "");

// One line for people: "web main broken by 1a2b3c4d5e (Mallory): refactor: simplify checks".
std::string headline(const std::string& event, const RunFacts& facts);

std::string webhookBody(const std::string& event, const RunFacts& facts);
std::string slackBody(const std::string& event, const RunFacts& facts);
std::string emailMessage(const std::string& event, const RunFacts& facts, const std::string& from,
                         const std::string& to, int64_t nowMs);

}  // namespace boucle::notify

namespace boucle::notify {

// A deploy's events: "deployed", "deploy_failed" (also when it was rolled back), "rolled_back",
// "approval_needed" (a deploy waiting for one).
std::vector<std::string> deployEventsOf(const store::Deploy& d);
// A scheduled deploy's turn, told as a build's is: "broken" when it fails after a success (or
// first), "fixed" when it succeeds after a failure, else "".
std::string scheduledTurn(store::Store& store, const store::Deploy& d);
// "web 1.2.0 deployed to qa (asked by ada)", "web 1.3.0 failed to deploy to dev: …".
std::string deployHeadline(const std::string& event, const store::Deploy& d);
// Plans and stores the deliveries for a deploy's events under the release's run (whose
// notifications list then shows them); returns how many were queued.
Result<int> queueDeployNotifications(store::Store& store, const store::Deploy& d, int64_t runId,
                                     const std::vector<pipeline::Notification>& rules,
                                     const std::string& mailFrom, int64_t nowMs);

// "incident" or "resolved" for an incident: "web prod: incident #3 opened (0.4.1 live): 5xx
// above 1%". Queued under `runId` (the live release's run), with that release's rules.
std::string incidentHeadline(const std::string& event, const store::Incident& i);
Result<int> queueIncidentNotifications(store::Store& store, const store::Incident& i,
                                       const std::string& event, int64_t runId,
                                       const std::vector<pipeline::Notification>& rules,
                                       const std::string& mailFrom, int64_t nowMs);

// Plans and stores the deliveries for a finished run; returns how many were queued.
Result<int> queueNotifications(store::Store& store, const store::Run& run,
                               const std::vector<pipeline::Notification>& rules,
                               const std::string& mailFrom, int64_t nowMs,
                               const std::string& only = "");

}  // namespace boucle::notify
