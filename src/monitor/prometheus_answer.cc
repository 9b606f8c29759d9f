#include "monitor/prometheus_answer.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace boucle::monitor {

namespace {

using nlohmann::json;

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// Prometheus writes sample values as strings: "0.25", "NaN", "+Inf".
std::optional<double> valueOf(const json& pair) {
  if (!pair.is_array() || pair.size() != 2 || !pair[1].is_string()) return std::nullopt;
  const std::string& s = pair[1].get_ref<const std::string&>();
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0') return std::nullopt;
  return v;
}

std::string seriesName(const json& metric) {
  if (!metric.is_object() || metric.empty()) return "{}";
  std::string out = "{";
  for (auto it = metric.begin(); it != metric.end(); ++it) {
    if (out.size() > 1) out += ", ";
    std::string value = it->is_string() ? it->get<std::string>() : it->dump();
    out += it.key().substr(0, 60) + "=" + value.substr(0, 60);
    if (out.size() > 120) {
      out += "…";
      break;
    }
  }
  return out + "}";
}

bool nameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool nameChar(char c) {
  return nameStart(c) || std::isdigit(static_cast<unsigned char>(c));
}

// A sample line's shape: name, optional {labels} with quoted values, a number, an optional
// timestamp.
bool sampleLine(std::string_view l) {
  size_t i = 0;
  if (i >= l.size() || !nameStart(l[i])) return false;
  while (i < l.size() && nameChar(l[i])) ++i;
  if (i < l.size() && l[i] == '{') {
    bool quoted = false;
    for (++i; i < l.size(); ++i) {
      char c = l[i];
      if (quoted) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          quoted = false;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == '}') {
        break;
      }
    }
    if (i >= l.size()) return false;
    ++i;
  }
  if (i >= l.size() || (l[i] != ' ' && l[i] != '\t')) return false;
  while (i < l.size() && (l[i] == ' ' || l[i] == '\t')) ++i;
  std::string rest(l.substr(i));
  size_t space = rest.find_first_of(" \t");
  std::string value = rest.substr(0, space);
  if (value.empty()) return false;
  char* end = nullptr;
  std::strtod(value.c_str(), &end);
  if (*end != '\0') return false;
  if (space != std::string::npos) {
    std::string ts = rest.substr(space + 1);
    while (!ts.empty() && (ts.back() == ' ' || ts.back() == '\t' || ts.back() == '\r'))
      ts.pop_back();
    while (!ts.empty() && (ts.front() == ' ' || ts.front() == '\t')) ts.erase(0, 1);
    if (!ts.empty()) {
      std::strtoll(ts.c_str(), &end, 10);
      if (*end != '\0') return false;
    }
  }
  return true;
}

Judged judgeQueryOrThrow(std::string_view body, std::optional<double> below,
                         std::optional<double> above);

// A string member, or "" when absent or of another type (value() would throw on the latter:
// the answer comes from a service we do not control).
std::string stringAt(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Judged judgeQuery(std::string_view body, std::optional<double> below, std::optional<double> above) {
  try {
    return judgeQueryOrThrow(body, below, above);
  } catch (const std::exception&) {  // a shape nobody foresaw: a failure, never a crash
    return {Verdict::kFail, "the answer is not Prometheus' JSON"};
  }
}

namespace {

Judged judgeQueryOrThrow(std::string_view body, std::optional<double> below,
                         std::optional<double> above) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return {Verdict::kFail, "the answer is not Prometheus' JSON"};
  auto status = stringAt(j, "status");
  if (status != "success") {
    std::string error = j.contains("error") && j["error"].is_string()
                            ? j["error"].get<std::string>()
                            : "status " + status;
    if (error.size() > 200) error.resize(200);
    return {Verdict::kFail, "Prometheus said: " + error};
  }
  const json* data = j.contains("data") && j["data"].is_object() ? &j["data"] : nullptr;
  if (!data || !data->contains("result")) return {Verdict::kFail, "the answer has no data"};
  const json& result = (*data)["result"];
  std::string type = stringAt(*data, "resultType");
  std::vector<std::pair<std::string, double>> values;
  if (type == "scalar") {
    if (auto v = valueOf(result)) values.emplace_back("scalar", *v);
  } else if (type == "vector" && result.is_array()) {
    for (const auto& s : result) {
      if (!s.is_object() || !s.contains("value")) continue;
      if (auto v = valueOf(s["value"])) {
        values.emplace_back(seriesName(s.contains("metric") ? s["metric"] : json()), *v);
      }
    }
  } else {
    if (type.size() > 20) type = "result of another type";
    return {Verdict::kFail, "the query answers a " + type +
                                "; give one that answers an instant "
                                "vector or a scalar"};
  }
  size_t counted = 0;
  for (const auto& [name, v] : values) {
    if (std::isnan(v)) continue;
    ++counted;
    if (below && !(v < *below))
      return {Verdict::kFail, name + " is " + number(v) + ", not below " + number(*below)};
    if (above && !(v > *above))
      return {Verdict::kFail, name + " is " + number(v) + ", not above " + number(*above)};
  }
  if (counted == 0) return {Verdict::kNoData, "the query returned no series"};
  if (counted == 1) return {Verdict::kPass, "value " + number(values.front().second)};
  return {Verdict::kPass, std::to_string(counted) + " series within bounds"};
}

}  // namespace

Judged judgeExposition(std::string_view body) {
  size_t samples = 0, lineNo = 0;
  while (!body.empty()) {
    size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    ++lineNo;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    if (!sampleLine(line)) {
      return {Verdict::kFail, "line " + std::to_string(lineNo) + " is not Prometheus' text format"};
    }
    ++samples;
  }
  if (samples == 0) return {Verdict::kNoData, "no samples"};
  return {Verdict::kPass, std::to_string(samples) + " samples"};
}

}  // namespace boucle::monitor
