#include "scheduler/agent_protocol.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/encoding.h"

namespace boucle::scheduler {

using nlohmann::json;

namespace {

constexpr size_t kMaxArtifacts = 10000;
using runner::kMaxFailures;
// A report is one request body (the server takes 1 MiB by default): test cases fill at most
// this much of it, the rest are counted but not named.
constexpr size_t kCaseBytes = 640 * 1024;

json artifactsJson(const std::vector<runner::ArtifactEntry>& list) {
  json out = json::array();
  for (const auto& a : list)
    out.push_back({{"path", a.path}, {"sha256", a.sha256}, {"size", a.size}, {"mode", a.mode}});
  return out;
}

Result<std::vector<runner::ArtifactEntry>> artifactsFrom(const json& list) {
  if (!list.is_array()) return Status::Invalid("artifacts: expected a list");
  if (list.size() > kMaxArtifacts) return Status::Invalid("artifacts: more than 10000");
  std::vector<runner::ArtifactEntry> out;
  for (const auto& a : list) {
    runner::ArtifactEntry e;
    e.path = a.at("path").get<std::string>();
    e.sha256 = a.at("sha256").get<std::string>();
    e.size = a.at("size").get<uint64_t>();
    e.mode = a.at("mode").get<int>() & 0777;
    if (!safeArtifactPath(e.path)) return Status::Invalid("artifacts: bad path '" + e.path + "'");
    if (!isSha256(e.sha256)) return Status::Invalid("artifacts: bad sha256 for " + e.path);
    out.push_back(std::move(e));
  }
  return out;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

bool safeArtifactPath(std::string_view path) {
  if (path.empty() || path.size() > 4096 || path.front() == '/') return false;
  if (path.find('\0') != std::string_view::npos) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    auto part = path.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = slash + 1;
  }
  return true;
}

bool isSha256(std::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string specToJson(const AgentJobSpec& s) {
  return dump({{"project", s.project},
               {"run_id", s.runId},
               {"job", s.job},
               {"attempt", s.attempt},
               {"commit", s.commit},
               {"branch", s.branch},
               {"pipeline", s.pipeline},
               {"source", s.source},
               {"process_allowed", s.processAllowed},
               {"needed", artifactsJson(s.needed)},
               {"quarantined", s.quarantined},
               {"env", s.env}});
}

Result<AgentJobSpec> specFromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    AgentJobSpec s;
    s.project = j.at("project").get<std::string>();
    s.runId = j.at("run_id").get<int64_t>();
    s.job = j.at("job").get<std::string>();
    s.attempt = j.at("attempt").get<int>();
    s.commit = j.at("commit").get<std::string>();
    s.branch = j.at("branch").get<std::string>();
    s.pipeline = j.at("pipeline").get<std::string>();
    s.source = j.at("source").get<bool>();
    s.processAllowed = j.at("process_allowed").get<bool>();
    if (j.contains("quarantined"))
      s.quarantined = j.at("quarantined").get<std::vector<std::string>>();
    if (j.contains("env")) {
      s.env = j.at("env").get<std::vector<std::string>>();
      if (s.env.size() > 1000) return Status::Invalid("job spec: more than 1000 variables");
      for (const auto& e : s.env) {
        auto eq = e.find('=');
        if (!e.starts_with("BOUCLE_") || eq == std::string::npos ||
            e.find('\0') != std::string::npos || e.size() > 64 * 1024)
          return Status::Invalid("job spec: not a BOUCLE_NAME=value variable");
      }
    }
    auto needed = artifactsFrom(j.at("needed"));
    if (!needed.ok()) return needed.status();
    s.needed = std::move(needed).value();
    return s;
  } catch (const json::exception& e) {
    return Status::Invalid(std::string("job spec: ") + e.what());
  }
}

std::string reportToJson(const AgentReport& r) {
  json j = {{"state", std::string(runner::toString(r.state))},
            {"exit_code", r.exitCode},
            {"duration_ms", r.duration.count()},
            {"reason", r.reason},
            {"log_size", r.logSize},
            {"artifacts", artifactsJson(r.artifacts)}};
  if (r.tests) {
    json failed = json::array();
    for (const auto& f : r.tests->failed) {
      failed.push_back({{"suite", f.suite},
                        {"name", f.name},
                        {"kind", f.kind},
                        {"message", f.message},
                        {"location", f.location},
                        {"details", f.details}});
    }
    json cases = json::array();
    auto warnings = r.tests->warnings;
    size_t bytes = 0;
    for (const auto& c : r.tests->cases) {
      bytes += c.suite.size() + c.name.size() + c.file.size() + 32;
      if (bytes > kCaseBytes) {
        warnings.push_back("only " + std::to_string(cases.size()) + " of " +
                           std::to_string(r.tests->cases.size()) +
                           " test cases were sent one by one (the agent's report is bounded)");
        break;
      }
      cases.push_back({c.suite, c.name, c.file, static_cast<int>(c.outcome), c.micros});
    }
    j["tests"] = {{"tests", r.tests->tests},
                  {"failures", r.tests->failures},
                  {"errors", r.tests->errors},
                  {"skipped", r.tests->skipped},
                  {"seconds", r.tests->seconds},
                  {"failed", failed},
                  {"cases", cases},
                  {"warnings", warnings}};
  }
  if (!r.benchmarks.empty()) {
    json list = json::array();
    // Samples take room in the one request a report is: past this many, figures alone.
    size_t samplesLeft = 20000;
    for (const auto& m : r.benchmarks) {
      json samples = json::array();
      if (m.samples.size() <= samplesLeft) {
        samples = m.samples;
        samplesLeft -= m.samples.size();
      }
      list.push_back(
          {{"name", m.name}, {"source", m.source}, {"figures", m.figures}, {"samples", samples}});
    }
    j["benchmarks"] = list;
  }
  return dump(j);
}

Result<AgentReport> reportFromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    AgentReport r;
    auto state = j.at("state").get<std::string>();
    if (state == "passed")
      r.state = runner::JobState::kPassed;
    else if (state == "failed")
      r.state = runner::JobState::kFailed;
    else if (state == "timed_out")
      r.state = runner::JobState::kTimedOut;
    else if (state == "cancelled")
      r.state = runner::JobState::kCancelled;
    else
      return Status::Invalid("report: '" + state + "' is not how a job ends");
    r.exitCode = j.at("exit_code").get<int>();
    r.duration = Millis(std::max<int64_t>(0, j.at("duration_ms").get<int64_t>()));
    r.reason = j.at("reason").get<std::string>().substr(0, 4096);
    r.logSize = j.at("log_size").get<uint64_t>();
    auto artifacts = artifactsFrom(j.at("artifacts"));
    if (!artifacts.ok()) return artifacts.status();
    r.artifacts = std::move(artifacts).value();
    if (j.contains("tests")) {
      const json& t = j.at("tests");
      runner::TestReport tr;
      tr.tests = t.at("tests").get<int>();
      tr.failures = t.at("failures").get<int>();
      tr.errors = t.at("errors").get<int>();
      tr.skipped = t.at("skipped").get<int>();
      tr.seconds = t.at("seconds").get<double>();
      if (tr.tests < 0 || tr.failures < 0 || tr.errors < 0 || tr.skipped < 0 ||
          int64_t{tr.failures} + tr.errors + tr.skipped > tr.tests)
        return Status::Invalid("report: test counts do not add up");
      const json& failed = t.at("failed");
      if (!failed.is_array() || failed.size() > kMaxFailures)
        return Status::Invalid("report: failed tests: expected a list of at most 1000");
      for (const auto& f : failed) {
        runner::TestFailure tf;
        tf.suite = f.at("suite").get<std::string>().substr(0, 1024);
        tf.name = f.at("name").get<std::string>().substr(0, 1024);
        tf.kind = f.at("kind").get<std::string>().substr(0, 16);
        tf.message = f.at("message").get<std::string>().substr(0, 4096);
        tf.location = f.at("location").get<std::string>().substr(0, 1024);
        tf.details = f.value("details", std::string()).substr(0, 16384);
        tr.failed.push_back(std::move(tf));
      }
      if (t.contains("cases")) {
        const json& cases = t.at("cases");
        if (!cases.is_array() || cases.size() > runner::kMaxCases)
          return Status::Invalid("report: test cases: expected a list of at most " +
                                 std::to_string(runner::kMaxCases));
        for (const auto& c : cases) {
          runner::TestCase tc;
          tc.suite = cutUtf8(c.at(0).get<std::string>(), runner::kMaxTestName);
          tc.name = cutUtf8(c.at(1).get<std::string>(), runner::kMaxTestName);
          tc.file = cutUtf8(c.at(2).get<std::string>(), runner::kMaxTestName);
          int outcome = c.at(3).get<int>();
          if (outcome < 0 || outcome > 3) return Status::Invalid("report: a case's outcome");
          tc.outcome = static_cast<runner::Outcome>(outcome);
          tc.micros = std::clamp<int64_t>(c.at(4).get<int64_t>(), 0, int64_t{86400} * 1000000);
          tr.cases.push_back(std::move(tc));
        }
      }
      for (const auto& w : t.at("warnings")) {
        if (tr.warnings.size() < 100) tr.warnings.push_back(w.get<std::string>().substr(0, 1024));
      }
      r.tests = std::move(tr);
    }
    if (j.contains("benchmarks")) {
      const json& list = j.at("benchmarks");
      if (!list.is_array() || list.size() > runner::kMaxMeasurements)
        return Status::Invalid("report: benchmarks: expected a list of at most 1000");
      for (const auto& b : list) {
        runner::Measurement m;
        m.name = cutUtf8(b.at("name").get<std::string>(), 300);
        m.source = cutUtf8(b.at("source").get<std::string>(), 40);
        for (const auto& [k, v] : b.at("figures").items()) {
          double x = v.get<double>();
          if (runner::knownFigure(k) && std::isfinite(x) && x >= 0) m.figures[k] = x;
        }
        for (const auto& v : b.at("samples")) {
          double x = v.get<double>();
          if (m.samples.size() < runner::kMaxSamples && std::isfinite(x) && x >= 0)
            m.samples.push_back(x);
        }
        r.benchmarks.push_back(std::move(m));
      }
    }
    return r;
  } catch (const json::exception& e) {
    return Status::Invalid(std::string("report: ") + e.what());
  }
}

}  // namespace boucle::scheduler
