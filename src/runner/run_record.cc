#include "runner/run_record.h"

#include <nlohmann/json.hpp>

#include "os/files.h"
#include "runner/job_launch.h"

namespace boucle::runner {

using nlohmann::json;

namespace detail {

Status writeManifest(const std::filesystem::path& file, const std::vector<ArtifactEntry>& entries) {
  json list = json::array();
  for (const auto& e : entries) {
    list.push_back({{"path", e.path}, {"sha256", e.sha256}, {"size", e.size}, {"mode", e.mode}});
  }
  return os::writeFileAtomic(file, json{{"artifacts", list}}.dump(
                                       2, ' ', false, nlohmann::json::error_handler_t::replace) +
                                       "\n");
}

}  // namespace detail

Result<std::vector<ArtifactEntry>> readManifest(const std::filesystem::path& file) {
  auto text = os::readFile(file);
  if (!text.ok()) return text.status();
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j["artifacts"].is_array())
    return Status::Invalid(file.string() + ": not an artifact manifest");
  std::vector<ArtifactEntry> out;
  for (const auto& a : j["artifacts"]) {
    out.push_back({a.value("path", ""), a.value("sha256", ""), a.value("size", uint64_t{0}),
                   a.value("mode", 0644)});
  }
  return out;
}

namespace {

json testsJson(const TestReport& t) {
  json failed = json::array();
  for (const auto& f : t.failed) {
    failed.push_back({{"suite", f.suite},
                      {"name", f.name},
                      {"kind", f.kind},
                      {"message", f.message},
                      {"location", f.location}});
  }
  return {{"tests", t.tests},   {"passed", t.passed()},  {"failures", t.failures},
          {"errors", t.errors}, {"skipped", t.skipped},  {"seconds", t.seconds},
          {"failed", failed},   {"warnings", t.warnings}};
}

}  // namespace

std::string runToJson(const RunMeta& meta, const RunResult* result) {
  json j = {{"project", meta.project},
            {"run", meta.runId},
            {"commit", meta.commit},
            {"branch", meta.branch},
            {"subject", meta.subject},
            {"state", meta.state},
            {"started_at_ms", meta.startedAtMs},
            {"working_tree", meta.workingTree}};
  if (result) {
    j["duration_ms"] = result->duration.count();
    json jobs = json::array();
    for (const auto& r : result->jobs) {
      json job = {{"name", r.name},
                  {"state", toString(r.state)},
                  {"exit_code", r.exitCode},
                  {"attempts", r.attempts},
                  {"duration_ms", r.duration.count()},
                  {"prepare_ms", r.prepareTime.count()},
                  {"reason", r.reason},
                  {"log", r.log.string()}};
      json arts = json::array();
      for (const auto& a : r.artifacts) {
        arts.push_back({{"path", a.path}, {"sha256", a.sha256}, {"size", a.size}});
      }
      job["artifacts"] = arts;
      if (r.tests) job["tests"] = testsJson(*r.tests);
      jobs.push_back(job);
    }
    j["jobs"] = jobs;
  }
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Status writeRunRecord(const std::filesystem::path& runDir, const RunMeta& meta,
                      const RunResult* result) {
  return os::writeFileAtomic(runDir / "run.json", runToJson(meta, result));
}

}  // namespace boucle::runner
