#include "monitor/probe_snapshot.h"

#include <nlohmann/json.hpp>

namespace boucle::monitor {

using nlohmann::json;

namespace {

template <typename T>
json orNull(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

template <typename T>
std::optional<T> optionalOf(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<T>();
}

Verdict verdictOf(std::string_view s) {
  return s == "fail" ? Verdict::kFail : s == "no_data" ? Verdict::kNoData : Verdict::kPass;
}

}  // namespace

std::string snapshotJson(const std::vector<ProbeStatus>& statuses,
                         const std::vector<std::string>& problems) {
  json list = json::array();
  for (const auto& s : statuses) {
    list.push_back({{"project", s.project},
                    {"env", s.env},
                    {"monitor", s.monitor},
                    {"host", s.host},
                    {"release", s.release},
                    {"kind", s.kind},
                    {"every_ms", s.everyMs},
                    {"seen", s.seen},
                    {"verdict", toString(s.verdict)},
                    {"at_ms", s.atMs},
                    {"latency_ms", s.latencyMs},
                    {"detail", s.detail},
                    {"streak", s.streak},
                    {"incident_id", orNull(s.incidentId)},
                    {"passes", s.passes},
                    {"failures", s.failures},
                    {"no_data", s.noData},
                    {"slo_availability", orNull(s.sloAvailability)},
                    {"slo_p95_ms", orNull(s.sloP95Ms)},
                    {"slo_window_ms", s.sloWindowMs},
                    {"burn", s.burn}});
  }
  return json{{"statuses", list}, {"problems", problems}}.dump(-1, ' ', false,
                                                               json::error_handler_t::replace);
}

bool parseSnapshot(std::string_view text, std::vector<ProbeStatus>* statuses,
                   std::vector<std::string>* problems) {
  statuses->clear();
  problems->clear();
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return false;
  try {
    for (const auto& s : j.value("statuses", json::array())) {
      ProbeStatus p;
      p.project = s.at("project").get<std::string>();
      p.env = s.at("env").get<std::string>();
      p.monitor = s.at("monitor").get<std::string>();
      p.host = s.at("host").get<std::string>();
      p.release = s.at("release").get<std::string>();
      p.kind = s.at("kind").get<std::string>();
      p.everyMs = s.at("every_ms").get<int64_t>();
      p.seen = s.at("seen").get<bool>();
      p.verdict = verdictOf(s.at("verdict").get<std::string>());
      p.atMs = s.at("at_ms").get<int64_t>();
      p.latencyMs = s.at("latency_ms").get<int64_t>();
      p.detail = s.at("detail").get<std::string>();
      p.streak = s.at("streak").get<int>();
      p.incidentId = optionalOf<int64_t>(s, "incident_id");
      p.passes = s.at("passes").get<uint64_t>();
      p.failures = s.at("failures").get<uint64_t>();
      p.noData = s.at("no_data").get<uint64_t>();
      p.sloAvailability = optionalOf<double>(s, "slo_availability");
      p.sloP95Ms = optionalOf<int64_t>(s, "slo_p95_ms");
      p.sloWindowMs = s.at("slo_window_ms").get<int64_t>();
      p.burn = s.at("burn").get<std::string>();
      statuses->push_back(std::move(p));
    }
    for (const auto& why : j.value("problems", json::array()))
      problems->push_back(why.get<std::string>());
  } catch (const json::exception&) {
    statuses->clear();
    problems->clear();
    return false;
  }
  return true;
}

}  // namespace boucle::monitor
