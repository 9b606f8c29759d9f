// The operate half of the file: monitor and notify.
#include "core/encoding.h"
#include "core/suggest.h"
#include "pipeline/parse_context.h"

namespace boucle::pipeline::detail {

namespace {

void parseSlo(const Field& f, Monitor& m, Diagnostics& d) {
  MapReader r(f.node, f.pos, "slo", {"availability", "p95", "window"}, d);
  if (auto v = r.get("availability")) m.sloAvailability = readPercent(v, d);
  if (auto v = r.get("p95")) m.sloP95 = readDuration(v, d);
  if (auto v = r.get("window")) {
    if (auto t = readDuration(v, d)) m.sloWindow = *t;
  }
  if (!m.sloAvailability && !m.sloP95)
    d.error(f.pos, "slo: give an availability (99.9%), a p95 (300ms) or both");
}

// Each probe costs the server a little CPU and memory: a file cannot ask for without bound.
constexpr size_t kMaxMonitors = 2000;

bool looksLikeUrl(std::string_view s) {
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0 || s.rfind("{{", 0) == 0;
}

}  // namespace

// A list of probes: the `monitor` section, and an environment's `verify: {checks}` (where
// `section` names it in messages and an SLO means nothing).
void parseProbeList(const Field& f, std::string_view section, size_t max, std::vector<Monitor>& out,
                    Diagnostics& d) {
  std::string what(section);
  if (!f.node.IsSequence()) {
    d.error(f.pos, what +
                       ": expected a list of probes (- http: URL, - tcp: HOST:PORT, - run: CMD, "
                       "- prometheus: URL)");
    return;
  }
  if (f.node.size() > max) {
    d.error(f.pos, what + ": " + std::to_string(f.node.size()) + " probes; at most " +
                       std::to_string(max) + " a file");
    return;
  }
  bool sloAllowed = section == "monitor";
  for (const auto& item : f.node) {
    SourcePos ip = posOf(item, f.pos);
    MapReader r(item, ip, what,
                {"name", "http", "tcp", "run", "prometheus", "query", "below", "above", "every",
                 "timeout", "expect", "fail_after", "recover_after", "slo"},
                d);
    if (!r.isMap()) continue;
    Monitor m;
    m.pos = ip;
    int kinds = 0;
    for (auto [key, kind] :
         {std::pair{"http", MonitorKind::kHttp}, std::pair{"tcp", MonitorKind::kTcp},
          std::pair{"run", MonitorKind::kCommand},
          std::pair{"prometheus", MonitorKind::kPrometheus}}) {
      auto v = r.get(key);
      if (!v) continue;
      ++kinds;
      m.kind = kind;
      if (auto s = readString(v, d)) {
        m.target = *s;
        checkTemplate(v, *s, d);
        bool url = kind == MonitorKind::kHttp || kind == MonitorKind::kPrometheus;
        if (url && !looksLikeUrl(*s)) {
          d.error(v.pos, std::string(key) + ": expected a URL starting with http:// or https://");
        }
      }
    }
    if (kinds != 1) {
      d.error(ip, what + ": give exactly one of 'http', 'tcp', 'run' or 'prometheus'");
      continue;
    }
    if (auto v = r.get("every")) {
      if (auto t = readDuration(v, d)) m.every = *t;
    }
    if (auto v = r.get("timeout")) {
      if (auto t = readDuration(v, d)) m.timeout = *t;
    }
    if (auto v = r.get("expect")) {
      if (m.kind != MonitorKind::kHttp) {
        d.error(v.pos, "expect: only an http monitor has one (status, contains, within)");
      } else {
        Millis within{};
        parseExpect(v, m.expectStatus, m.expectContains, &within, d);
        if (within.count() > 0) m.expectWithin = within;
      }
    }
    auto query = r.get("query");
    if (query) {
      if (m.kind != MonitorKind::kPrometheus) {
        d.error(query.pos, "query: only a prometheus monitor has one");
      } else if (auto s = readString(query, d)) {
        m.query = *s;
        checkTemplate(query, *s, d);
      }
    }
    for (auto [key, bound] : {std::pair{"below", &m.below}, std::pair{"above", &m.above}}) {
      auto v = r.get(key);
      if (!v) continue;
      if (!query) {
        d.error(v.pos, std::string(key) + ": compares a prometheus monitor's query; add 'query'");
      } else {
        *bound = readNumber(v, d);
      }
    }
    if (query && !m.below && !m.above) {
      d.error(query.pos, "query: say what its value must be: 'below: N', 'above: N' or both");
    }
    if (auto v = r.get("fail_after")) {
      if (auto n = readInt(v, 1, 100, d)) m.failAfter = *n;
    }
    if (auto v = r.get("recover_after")) {
      if (auto n = readInt(v, 1, 100, d)) m.recoverAfter = *n;
    }
    if (m.timeout > m.every) {
      d.error(ip, what + ": its timeout is longer than its interval ('every')");
    }
    if (auto v = r.get("slo")) {
      if (sloAllowed)
        parseSlo(v, m, d);
      else
        d.error(v.pos, "slo: belongs to a monitor; a verification check has none");
    }
    if (auto v = r.get("name")) {
      if (auto s = readString(v, d)) {
        m.name = *s;
        if (s->empty() || s->size() > 100 || s->find_first_of("\n\r\t") != std::string::npos)
          d.error(v.pos, "name: one line of 1 to 100 characters");
      }
    } else {
      m.name = std::string(toString(m.kind)) + " " + m.target;
      for (char& c : m.name) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
      }
      m.name = cutUtf8(std::move(m.name), 100);  // names are metrics' labels
    }
    for (const auto& other : out) {
      if (other.name == m.name) {
        d.error(ip, what + ": another probe is named '" + m.name + "'; give each a 'name'");
        break;
      }
    }
    if (m.every < std::chrono::seconds(1)) d.error(ip, what + ": 'every' is at least 1s");
    out.push_back(std::move(m));
  }
}

void parseMonitors(const Field& f, Pipeline& p, Diagnostics& d) {
  parseProbeList(f, "monitor", kMaxMonitors, p.monitors, d);
}

void parseNotifications(const Field& f, Pipeline& p, Diagnostics& d) {
  if (!f.node.IsSequence()) {
    d.error(f.pos, "notify: expected a list of '- on: [events]' with webhook, slack or email");
    return;
  }
  for (const auto& item : f.node) {
    SourcePos ip = posOf(item, f.pos);
    MapReader r(item, ip, "notify", {"on", "webhook", "slack", "email"}, d);
    if (!r.isMap()) continue;
    Notification n;
    n.pos = ip;
    if (auto v = r.get("on")) {
      std::vector<SourcePos> pos;
      if (auto l = readStringList(v, d, &pos)) {
        for (size_t i = 0; i < l->size(); ++i) {
          const auto& ev = (*l)[i];
          bool known = false;
          for (auto k : kNotifyEvents) known = known || k == ev;
          if (known) {
            n.on.push_back(ev);
            continue;
          }
          std::string msg = "on: unknown event '" + ev + "'";
          if (auto s = closestMatch(ev, kNotifyEvents)) msg += " (did you mean '" + *s + "'?)";
          d.error(pos[i], msg);
        }
      }
    } else {
      d.error(ip, "notify: missing 'on' (the events to send, e.g. [broken, fixed])");
    }
    int channels = 0;
    for (auto [key, ch] :
         {std::pair{"webhook", NotifyChannel::kWebhook}, std::pair{"slack", NotifyChannel::kSlack},
          std::pair{"email", NotifyChannel::kEmail}}) {
      auto v = r.get(key);
      if (!v) continue;
      ++channels;
      n.channel = ch;
      std::vector<SourcePos> pos;
      auto targets = readStringList(v, d, &pos);
      if (!targets) continue;
      for (size_t i = 0; i < targets->size(); ++i) {
        const auto& t = (*targets)[i];
        bool ok = ch == NotifyChannel::kEmail
                      ? (t.find('@') != std::string::npos && t.find(' ') == std::string::npos)
                      : looksLikeUrl(t);
        if (!ok) {
          d.error(pos[i], std::string(key) + ": '" + t + "' is not " +
                              (ch == NotifyChannel::kEmail ? "an e-mail address" : "a URL"));
        }
      }
      n.targets = *targets;
    }
    if (channels != 1) {
      d.error(ip, "notify: give exactly one of 'webhook', 'slack' or 'email'");
      continue;
    }
    p.notifications.push_back(std::move(n));
  }
}

}  // namespace boucle::pipeline::detail
