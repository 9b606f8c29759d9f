#include "runner/benchmark_report.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/encoding.h"

namespace boucle::runner {

using nlohmann::json;

namespace {

constexpr size_t kMaxName = 300;

std::string nameOf(std::string s) {
  s = cleanUtf8(s);
  // Names reach logs, reasons and terminals: no control characters.
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  if (s.size() > kMaxName) s = cutUtf8(std::move(s), kMaxName);
  return s;
}

bool usable(double v) {
  return std::isfinite(v) && v >= 0 && v < 1e15;
}

void put(Measurement& m, const std::string& figure, double v) {
  if (usable(v)) m.figures[figure] = v;
}

// At most kMaxSamples, evenly spread over all of them.
std::vector<double> thin(const std::vector<double>& all) {
  std::vector<double> out;
  if (all.size() <= kMaxSamples) {
    for (double v : all)
      if (usable(v)) out.push_back(v);
    return out;
  }
  for (size_t i = 0; i < kMaxSamples; ++i) {
    double v = all[i * all.size() / kMaxSamples];
    if (usable(v)) out.push_back(v);
  }
  return out;
}

double toMs(double v, const std::string& unit) {
  if (unit == "ns") return v / 1e6;
  if (unit == "us") return v / 1e3;
  if (unit == "s") return v * 1e3;
  return v;  // "ms"
}

double number(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return NAN;
  return it->get<double>();
}

// Google Benchmark: one entry per run (per repetition with --benchmark_repetitions), and the
// aggregates (mean, median, stddev, cv) of repeated runs.
std::vector<Measurement> googleBenchmark(const json& doc) {
  std::map<std::string, Measurement> byName;
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> samples;
  for (const auto& b : doc.at("benchmarks")) {
    if (!b.is_object()) continue;
    std::string run = b.value("run_name", b.value("name", std::string()));
    if (run.empty()) continue;
    run = nameOf(run);
    std::string unit = b.value("time_unit", std::string("ns"));
    double t = toMs(number(b, "real_time"), unit);
    if (!byName.contains(run)) {
      if (byName.size() >= kMaxMeasurements) continue;
      order.push_back(run);
      byName[run] = {run, "google-benchmark", {}, {}};
    }
    Measurement& m = byName[run];
    if (b.value("error_occurred", false) || !usable(t)) continue;  // an errored run
    if (b.value("run_type", std::string("iteration")) == "aggregate") {
      std::string agg = b.value("aggregate_name", std::string());
      if (agg == "mean" || agg == "median") put(m, agg, t);
      continue;
    }
    if (samples[run].size() < 100000) samples[run].push_back(t);
    if (auto ips = number(b, "items_per_second"); usable(ips)) put(m, "rps", ips);
  }
  std::vector<Measurement> out;
  for (const auto& name : order) {
    Measurement m = std::move(byName[name]);
    auto& all = samples[name];
    if (!all.empty()) {
      std::vector<double> sorted = all;
      std::sort(sorted.begin(), sorted.end());
      if (!m.figures.contains("mean")) {
        double sum = 0;
        for (double v : sorted) sum += v;
        put(m, "mean", sum / static_cast<double>(sorted.size()));
      }
      if (!m.figures.contains("median")) put(m, "median", sorted[sorted.size() / 2]);
      put(m, "min", sorted.front());
      put(m, "max", sorted.back());
      if (all.size() > 1) m.samples = thin(all);
    }
    out.push_back(std::move(m));
  }
  return out;
}

// pytest-benchmark: stats in seconds; `data` (with --benchmark-save-data) holds every round.
std::vector<Measurement> pytestBenchmark(const json& doc) {
  std::vector<Measurement> out;
  for (const auto& b : doc.at("benchmarks")) {
    if (!b.is_object() || !b.contains("stats") || out.size() >= kMaxMeasurements) continue;
    const json& s = b.at("stats");
    Measurement m{
        nameOf(b.value("fullname", b.value("name", std::string()))), "pytest-benchmark", {}, {}};
    for (auto [from, to] : {std::pair{"mean", "mean"}, std::pair{"median", "median"},
                            std::pair{"min", "min"}, std::pair{"max", "max"}})
      put(m, to, number(s, from) * 1e3);
    put(m, "rps", number(s, "ops"));
    if (s.contains("data") && s.at("data").is_array()) {
      std::vector<double> all;
      for (const auto& v : s.at("data"))
        if (v.is_number()) all.push_back(v.get<double>() * 1e3);
      m.samples = thin(all);
    }
    out.push_back(std::move(m));
  }
  return out;
}

// k6's --summary-export: trends (durations, in ms) with avg, med, p(90), p(95), …; counters
// with a rate.
std::vector<Measurement> k6(const json& doc) {
  std::vector<Measurement> out;
  for (const auto& [name, metric] : doc.at("metrics").items()) {
    if (!metric.is_object() || out.size() >= kMaxMeasurements) continue;
    Measurement m{nameOf(name), "k6", {}, {}};
    // Newer k6 nest them under "values".
    const json& v =
        metric.contains("values") && metric["values"].is_object() ? metric["values"] : metric;
    for (auto [from, to] :
         {std::pair{"avg", "mean"}, std::pair{"med", "median"}, std::pair{"p(90)", "p90"},
          std::pair{"p(95)", "p95"}, std::pair{"p(99)", "p99"}, std::pair{"min", "min"},
          std::pair{"max", "max"}})
      put(m, to, number(v, from));
    // A counter's rate is per second; a Rate metric's (http_req_failed) is a fraction.
    if (v.contains("count")) put(m, "rps", number(v, "rate"));
    if (!m.figures.empty()) out.push_back(std::move(m));
  }
  return out;
}

// Locust's PREFIX_stats.csv: a header, then one line per request name and an "Aggregated" one.
Result<std::vector<Measurement>> locust(std::string_view text) {
  auto lines = split(text, '\n');
  auto cells = [](const std::string& line) {
    // Names may be quoted and hold commas: "GET /items?a=1,2".
    std::vector<std::string> out;
    std::string cell;
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      if (quoted) {
        if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
          cell += '"';
          ++i;
        } else if (c == '"') {
          quoted = false;
        } else {
          cell += c;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        out.push_back(std::move(cell));
        cell.clear();
      } else if (c != '\r') {
        cell += c;
      }
    }
    out.push_back(std::move(cell));
    return out;
  };
  auto header = cells(lines.at(0));
  if (header.size() > 100) return Status::Invalid("not Locust's statistics: too many columns");
  auto column = [&](const std::string& name) -> int {
    auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  int type = column("Type"), name = column("Name");
  if (name < 0 || column("Request Count") < 0)
    return Status::Invalid("not Locust's statistics: no Name and Request Count columns");
  std::vector<std::pair<std::string, std::string>> wanted{{"Average Response Time", "mean"},
                                                          {"Median Response Time", "median"},
                                                          {"90%", "p90"},
                                                          {"95%", "p95"},
                                                          {"99%", "p99"},
                                                          {"Min Response Time", "min"},
                                                          {"Max Response Time", "max"},
                                                          {"Requests/s", "rps"},
                                                          {"Failure Count", "failures"}};
  std::vector<Measurement> out;
  for (size_t i = 1; i < lines.size() && out.size() < kMaxMeasurements; ++i) {
    if (lines[i].empty()) continue;
    auto row = cells(lines[i]);
    if (static_cast<int>(row.size()) <= name) continue;
    std::string label = row[static_cast<size_t>(name)];
    if (type >= 0 && static_cast<int>(row.size()) > type && !row[static_cast<size_t>(type)].empty())
      label = row[static_cast<size_t>(type)] + " " + label;
    Measurement m{nameOf(label), "locust", {}, {}};
    for (const auto& [col, figure] : wanted) {
      int c = column(col);
      if (c < 0 || c >= static_cast<int>(row.size())) continue;
      const std::string& cell = row[static_cast<size_t>(c)];
      if (cell.empty() || cell == "N/A") continue;
      try {
        put(m, figure, std::stod(cell));
      } catch (...) {
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

bool higherIsBetter(std::string_view figure) {
  return figure == "rps";
}

bool knownFigure(std::string_view figure) {
  for (const char* f : {"mean", "median", "p90", "p95", "p99", "min", "max", "rps", "failures"})
    if (figure == f) return true;
  return false;
}

Result<std::vector<Measurement>> parseBenchmarks(std::string_view text) {
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return Status::Invalid("the report is empty");
  if (text[start] != '{') {
    if (text.substr(start).starts_with("Type,") || text.substr(start).starts_with("\"Type\""))
      return locust(text.substr(start));
    return Status::Invalid(
        "not a benchmark report: expected Google Benchmark, k6 or pytest-benchmark JSON, or "
        "Locust's _stats.csv");
  }
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Status::Invalid("not valid JSON");
  try {
    if (doc.contains("benchmarks") && doc["benchmarks"].is_array()) {
      bool pytest = doc.contains("machine_info") ||
                    (!doc["benchmarks"].empty() && doc["benchmarks"][0].contains("stats"));
      return pytest ? pytestBenchmark(doc) : googleBenchmark(doc);
    }
    if (doc.contains("metrics") && doc["metrics"].is_object()) return k6(doc);
  } catch (const json::exception& e) {
    return Status::Invalid(std::string("a benchmark report: ") + e.what());
  }
  return Status::Invalid(
      "not a benchmark report: no 'benchmarks' (Google Benchmark, pytest-benchmark) or "
      "'metrics' (k6)");
}

}  // namespace boucle::runner
