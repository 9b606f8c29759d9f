#include "notify/messages.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "core/duration.h"

namespace boucle::notify {

using nlohmann::json;

std::vector<std::string> eventsOf(const store::Run& run) {
  std::vector<std::string> out;
  if (run.state == store::RunState::kPassed) out.push_back("succeeded");
  if (run.state == store::RunState::kFailed) out.push_back("failed");
  // A breaking run that is still bisecting tells who broke it once bisection has found out.
  if (!run.event.empty() && !(run.event == "broken" && run.bisectState == "running")) {
    out.push_back(run.event);
  }
  return out;
}

std::string headline(const std::string& event, const RunFacts& f) {
  const store::Run& r = f.run;
  std::string who = r.commit.substr(0, 10) + " (" + r.author + ")";
  if (event == "broken") {
    if (!r.culpritCommit.empty() && r.culpritCommit != r.commit) {
      return r.project + " " + r.branch + " broken by " + r.culpritCommit.substr(0, 10) + " (" +
             r.culpritAuthor + "): " + r.culpritSubject + " (found by bisecting " +
             std::to_string(r.suspects) + " commits)";
    }
    if (r.bisectState == "stopped") {
      return r.project + " " + r.branch + " broken by one of " + std::to_string(r.suspects) +
             " commits up to " + who + " (bisection stopped): " + r.subject;
    }
    return r.project + " " + r.branch + " broken by " + who + ": " + r.subject;
  }
  if (event == "fixed") {
    std::string s = r.project + " " + r.branch + " fixed by " + who;
    if (f.brokenSince) {
      s += ", broken since " + f.brokenSince->commit.substr(0, 10) + " (" + f.brokenSince->author +
           ")";
      if (f.brokenSince->finishedAt && r.finishedAt) {
        s += " for " + formatDuration(Millis(*r.finishedAt - *f.brokenSince->finishedAt));
      }
    }
    return s;
  }
  std::string s = r.project + " " + r.branch + " run #" + std::to_string(r.number) + " " + event +
                  " at " + who + ": " + r.subject;
  if (event == "failed" && f.brokenSince && f.brokenSince->id != r.id) {
    s += " (broken since " + f.brokenSince->commit.substr(0, 10) + " by " + f.brokenSince->author +
         ")";
  }
  return s;
}

namespace {
json runJson(const store::Run& r) {
  json j = {{"id", r.id},           {"number", r.number},
            {"project", r.project}, {"branch", r.branch},
            {"commit", r.commit},   {"author", r.author},
            {"subject", r.subject}, {"state", store::toString(r.state)}};
  if (!r.culpritCommit.empty()) {
    j["culprit"] = {{"commit", r.culpritCommit},
                    {"author", r.culpritAuthor},
                    {"subject", r.culpritSubject},
                    {"suspects", r.suspects}};
  }
  return j;
}
}  // namespace

std::string webhookBody(const std::string& event, const RunFacts& f) {
  json j = {{"event", event}, {"text", headline(event, f)}, {"run", runJson(f.run)}};
  j["broken_since"] = f.brokenSince ? runJson(*f.brokenSince) : json(nullptr);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string slackBody(const std::string& event, const RunFacts& f) {
  const char* icon = event == "fixed" || event == "succeeded" ? ":white_check_mark:" : ":x:";
  return json{{"text", std::string(icon) + " " + headline(event, f)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

// Header values come from commit data: no line breaks may get through (header injection).
std::string oneLine(std::string s) {
  for (char& c : s) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return s;
}

std::string email(const std::string& subject, const std::string& body, const std::string& from,
                  const std::string& to, int64_t nowMs) {
  char date[64];
  time_t secs = static_cast<time_t>(nowMs / 1000);
  tm t{};
  gmtime_r(&secs, &t);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &t);
  return "From: boucle <" + oneLine(from) + ">\r\nTo: <" + oneLine(to) + ">\r\nSubject: [boucle] " +
         oneLine(subject) + "\r\nDate: " + date +
         "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body;
}

// One delivery per rule that wants `event` and per target of it; `payload` makes each body.
template <typename Payload>
void addDeliveries(const std::vector<pipeline::Notification>& rules, const std::string& event,
                   int64_t runId, int64_t nowMs, const Payload& payload,
                   std::vector<store::Delivery>& out) {
  for (const auto& rule : rules) {
    bool wanted = false;
    for (const auto& e : rule.on) wanted = wanted || e == event;
    if (!wanted) continue;
    for (const auto& target : rule.targets) {
      store::Delivery d;
      d.runId = runId;
      d.event = event;
      d.target = target;
      d.nextAttemptAt = nowMs;
      d.channel = rule.channel == pipeline::NotifyChannel::kWebhook ? "webhook"
                  : rule.channel == pipeline::NotifyChannel::kSlack ? "slack"
                                                                    : "email";
      d.payload = payload(rule.channel, target);
      out.push_back(std::move(d));
    }
  }
}

// Slack reads <!channel>, <@user> and links in a message: text from an alert or a person
// is escaped as its formatting rules say (& < >), so it cannot ping a channel.
std::string slackEscaped(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '&') {
      out += "&amp;";
    } else if (ch == '<') {
      out += "&lt;";
    } else if (ch == '>') {
      out += "&gt;";
    } else {
      out += ch;
    }
  }
  return out;
}

// One event of a deploy or an incident, told the same way on every channel: a webhook gets
// {event, text, `what`: details}, Slack the icon and the line, e-mail the line.
void planEvent(const std::vector<pipeline::Notification>& rules, const std::string& event,
               int64_t runId, const std::string& line, const char* what, const json& details,
               const char* icon, const std::string& mailFrom, int64_t nowMs,
               std::vector<store::Delivery>& planned) {
  addDeliveries(
      rules, event, runId, nowMs,
      [&](pipeline::NotifyChannel channel, const std::string& target) -> std::string {
        switch (channel) {
          case pipeline::NotifyChannel::kWebhook:
            return json{{"event", event}, {"text", line}, {what, details}}.dump(
                -1, ' ', false, nlohmann::json::error_handler_t::replace);
          case pipeline::NotifyChannel::kSlack:
            return json{{"text", std::string(icon) + slackEscaped(line)}}.dump(
                -1, ' ', false, nlohmann::json::error_handler_t::replace);
          case pipeline::NotifyChannel::kEmail:
            break;
        }
        return email(line, oneLine(line) + "\r\n", mailFrom, target, nowMs);
      },
      planned);
}

Result<int> stored(store::Store& store, const std::vector<store::Delivery>& planned) {
  for (const auto& del : planned) {
    if (auto id = store.addDelivery(del); !id.ok()) return id.status();
  }
  return static_cast<int>(planned.size());
}

}  // namespace

std::string emailMessage(const std::string& event, const RunFacts& f, const std::string& from,
                         const std::string& to, int64_t nowMs) {
  std::string line = oneLine(headline(event, f));
  std::string body = line + "\r\n\r\nProject: " + oneLine(f.run.project) +
                     "\r\nBranch: " + oneLine(f.run.branch) + "\r\nCommit: " + f.run.commit +
                     "\r\nAuthor: " + oneLine(f.run.author) + "\r\nRun: #" +
                     std::to_string(f.run.number) + " (id " + std::to_string(f.run.id) + ")\r\n";
  return email(line, body, from, to, nowMs);
}

std::vector<store::Delivery> plan(const std::vector<pipeline::Notification>& rules,
                                  const RunFacts& facts, const std::string& mailFrom, int64_t nowMs,
                                  const std::string& only) {
  std::vector<store::Delivery> out;
  for (const auto& event : only.empty() ? eventsOf(facts.run) : std::vector<std::string>{only}) {
    addDeliveries(
        rules, event, facts.run.id, nowMs,
        [&](pipeline::NotifyChannel channel, const std::string& target) {
          switch (channel) {
            case pipeline::NotifyChannel::kWebhook:
              return webhookBody(event, facts);
            case pipeline::NotifyChannel::kSlack:
              return slackBody(event, facts);
            case pipeline::NotifyChannel::kEmail:
              break;
          }
          return emailMessage(event, facts, mailFrom, target, nowMs);
        },
        out);
  }
  return out;
}

}  // namespace boucle::notify

namespace boucle::notify {

std::vector<std::string> deployEventsOf(const store::Deploy& d) {
  if (d.dryRun) return {};
  switch (d.state) {
    case store::DeployState::kSucceeded:
      return {"deployed"};
    case store::DeployState::kFailed:
    case store::DeployState::kInterrupted:
      return {"deploy_failed"};
    case store::DeployState::kRolledBack:
      return {"deploy_failed", "rolled_back"};
    case store::DeployState::kWaiting:
      return {"approval_needed"};
    default:
      return {};
  }
}

namespace {

bool failedDeploy(store::DeployState s) {
  return s == store::DeployState::kFailed || s == store::DeployState::kRolledBack;
}

}  // namespace

std::string scheduledTurn(store::Store& store, const store::Deploy& d) {
  // A deploy a stopping server interrupted says nothing of the release either way.
  if (d.cause != "schedule" || d.dryRun || !store::isFinished(d.state) ||
      d.state == store::DeployState::kCancelled || d.state == store::DeployState::kInterrupted)
    return "";
  std::optional<store::Deploy> previous;
  if (auto list = store.listDeploys(d.project, d.env, 500); list.ok()) {
    for (const auto& o : *list) {
      if (o.id < d.id && o.cause == "schedule" && !o.dryRun && store::isFinished(o.state) &&
          o.state != store::DeployState::kCancelled &&
          o.state != store::DeployState::kInterrupted) {
        previous = o;
        break;
      }
    }
  }
  bool failed = failedDeploy(d.state);
  bool wasFailed = previous && failedDeploy(previous->state);
  if (failed && !wasFailed) return "broken";
  if (!failed && wasFailed) return "fixed";
  return "";
}

std::string deployHeadline(const std::string& event, const store::Deploy& d) {
  std::string what = d.project + " " + d.version;
  if (event == "deployed") {
    return what + " deployed to " + d.env + (d.rollback ? " (a rollback)" : "") + " (asked by " +
           d.requestedBy + ")";
  }
  if (event == "approval_needed") {
    return what + " waits for an approval to go to " + d.env + " (asked by " + d.requestedBy +
           "): boucle approve " + std::to_string(d.id);
  }
  if (event == "rolled_back") {
    return d.project + " " + d.env + " rolled back to " + d.fromVersion + " after " + d.version +
           " failed";
  }
  if (event == "broken") {
    return d.project + " " + d.env + " is broken: the scheduled deploy of " + d.version +
           " failed: " + d.reason;
  }
  if (event == "fixed") {
    return d.project + " " + d.env + " is fixed: the scheduled deploy of " + d.version +
           " succeeded";
  }
  return what + " failed to deploy to " + d.env + ": " + d.reason;
}

Result<int> queueDeployNotifications(store::Store& store, const store::Deploy& d, int64_t runId,
                                     const std::vector<pipeline::Notification>& rules,
                                     const std::string& mailFrom, int64_t nowMs) {
  json details = {{"id", d.id},
                  {"project", d.project},
                  {"env", d.env},
                  {"version", d.version},
                  {"state", store::toString(d.state)},
                  {"reason", d.reason},
                  {"from_version", d.fromVersion},
                  {"requested_by", d.requestedBy},
                  {"cause", d.cause}};
  std::vector<store::Delivery> planned;
  auto events = deployEventsOf(d);
  if (auto turn = scheduledTurn(store, d); !turn.empty()) events.push_back(turn);
  for (const auto& event : events) {
    const char* icon = event == "deployed" || event == "fixed" ? ":rocket: "
                       : event == "approval_needed"            ? ":hourglass: "
                                                               : ":x: ";
    planEvent(rules, event, runId, deployHeadline(event, d), "deploy", details, icon, mailFrom,
              nowMs, planned);
  }
  return stored(store, planned);
}

std::string incidentHeadline(const std::string& event, const store::Incident& i) {
  std::string live = i.release.empty() ? "nothing deployed" : i.release + " live";
  return i.project + " " + i.env + ": incident #" + std::to_string(i.id) +
         (event == "resolved" ? " resolved by " + i.resolvedBy : " opened (" + live + ")") + ": " +
         i.title;
}

Result<int> queueIncidentNotifications(store::Store& store, const store::Incident& i,
                                       const std::string& event, int64_t runId,
                                       const std::vector<pipeline::Notification>& rules,
                                       const std::string& mailFrom, int64_t nowMs) {
  json details = {{"id", i.id},
                  {"project", i.project},
                  {"env", i.env},
                  {"state", i.state},
                  {"title", i.title},
                  {"source", i.source},
                  {"monitor", i.monitor},
                  {"release", i.release},
                  {"deploy_id", i.deployId ? json(*i.deployId) : json()},
                  {"opened_at_ms", i.openedAt},
                  {"resolved_at_ms", i.resolvedAt ? json(*i.resolvedAt) : json()}};
  std::vector<store::Delivery> planned;
  planEvent(rules, event, runId, incidentHeadline(event, i), "incident", details,
            event == "resolved" ? ":white_check_mark: " : ":rotating_light: ", mailFrom, nowMs,
            planned);
  return stored(store, planned);
}

Result<int> queueNotifications(store::Store& store, const store::Run& run,
                               const std::vector<pipeline::Notification>& rules,
                               const std::string& mailFrom, int64_t nowMs,
                               const std::string& only) {
  if (rules.empty()) return 0;
  RunFacts facts{run, std::nullopt};
  if (run.brokenSince) {
    auto first = store.getRun(*run.brokenSince);
    if (first.ok()) facts.brokenSince = *first;
  }
  int n = 0;
  for (const auto& d : plan(rules, facts, mailFrom, nowMs, only)) {
    auto id = store.addDelivery(d);
    if (!id.ok()) return id.status();
    ++n;
  }
  return n;
}

}  // namespace boucle::notify
