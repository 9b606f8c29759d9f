#pragma once
// The Store over SQL, written once for every database: a sql::Connection brings the
// backend (SQLite or PostgreSQL). Shared by the files that implement it: sql_store.cc (projects,
// runs, jobs, notifications, tokens), sql_delivery.cc (releases, environments, deploys, audit),
// sql_incidents.cc and sql_monitors.cc.

#include <mutex>
#include <optional>

#include "store/sql/connection.h"
#include "store/store.h"

namespace boucle::store {

using sql::optInt;
using sql::readAll;
using sql::Statement;

// The running rows (runs or deploys) an Orphans counts as orphaned; SqlStore::bindOrphans binds
// its four parameters.
inline constexpr const char* kOrphaned =
    "state = 'running' AND (? = 1 OR server != ?) AND (server = '' OR server = ? OR server NOT "
    "IN (SELECT id FROM servers WHERE seen_at >= ?))";

class SqlStore : public Store {
 public:
  explicit SqlStore(std::unique_ptr<sql::Connection> conn) : conn_(std::move(conn)), db_(*conn_) {}

  Status migrate();

  Result<Project> addProject(const Project& p) override;
  Result<std::vector<Project>> listProjects() override;
  Result<Project> getProject(std::string_view name) override;
  Status removeProject(std::string_view name) override;
  Status setProjectCredential(std::string_view name, std::string_view kind, std::string_view user,
                              std::string_view sealed) override;
  Status updateProjectSettings(const Project& p) override;
  Result<Run> createRun(const Run& r) override;
  Result<Run> getRun(int64_t id) override;
  Status updateRun(const Run& r) override;
  Result<std::vector<Run>> listRuns(std::string_view project, int limit, int64_t beforeId) override;
  Result<std::vector<Run>> unfinishedRuns(std::string_view project,
                                          std::string_view branch) override;
  Result<std::optional<Run>> lastJudgedRun(std::string_view project, std::string_view branch,
                                           int64_t beforeId) override;
  Result<std::optional<Run>> claimNextQueued(int64_t nowMs) override;
  Result<std::vector<Run>> interruptUnfinished(std::string_view reason,
                                               const Orphans& which) override;
  Result<AgentJob> queueAgentJob(const AgentJob& j) override;
  Result<AgentJob> getAgentJob(int64_t id) override;
  Result<std::optional<AgentJob>> claimAgentJob(std::string_view agent,
                                                const std::vector<std::string>& labels,
                                                const std::vector<std::string>& projects,
                                                bool labelledOnly, int64_t nowMs,
                                                int64_t leaseUntil) override;
  Result<std::vector<AgentJob>> renewAgentLeases(
      std::string_view agent, const std::vector<std::pair<int64_t, int64_t>>& held,
      int64_t leaseUntil) override;
  Status growAgentLog(int64_t id, int64_t epoch, int64_t from, int64_t size) override;
  Status endAgentJob(int64_t id, int64_t epoch, std::string_view result, int64_t nowMs) override;
  Status noteAgentUpload(int64_t id, int64_t epoch, std::string_view sha256) override;
  Result<std::vector<AgentJob>> sweepAgentJobs(int64_t nowMs) override;
  Result<std::vector<AgentJob>> startedAgentJobs(int64_t runId) override;
  Result<std::vector<Run>> runsOnAgents() override;
  Result<std::vector<AgentJob>> agentJobsOfRun(int64_t runId) override;
  Status forgetAgentJob(int64_t id) override;
  Status cancelAgentJobs(int64_t runId) override;
  Result<bool> agentSeen(const AgentRecord& a) override;
  Result<std::vector<AgentRecord>> listAgents() override;
  Status setAgentDraining(std::string_view name, bool draining) override;
  Status heartbeat(const ServerRecord& s) override;
  Status forgetServer(std::string_view id) override;
  Result<std::vector<ServerRecord>> listServers() override;
  Status saveBisection(const Bisection& b) override;
  Result<Bisection> getBisection(int64_t runId) override;
  Result<std::vector<Bisection>> activeBisections() override;
  Result<std::map<std::string, int64_t>> firstBuilds(std::string_view project) override;
  Result<std::optional<Run>> createRunForNewHead(const Run& r) override;
  Result<std::optional<std::string>> lastSeenHead(std::string_view project,
                                                  std::string_view branch) override;
  Result<bool> recordHookDelivery(std::string_view project, std::string_view deliveryId,
                                  int64_t atMs) override;
  Status forgetHookDelivery(std::string_view project, std::string_view deliveryId) override;
  Status setSchedule(const Schedule& sc) override;
  Result<std::vector<Schedule>> dueSchedules(int64_t nowMs) override;
  Result<bool> takeSchedule(const Schedule& s, std::optional<int64_t> nextAt) override;
  Result<int64_t> addDelivery(const Delivery& d) override;
  Result<std::vector<Delivery>> dueDeliveries(int64_t nowMs, int limit) override;
  Status updateDelivery(const Delivery& d) override;
  Result<std::vector<Delivery>> listDeliveries(int64_t runId) override;
  Status saveJob(const JobRecord& j) override;
  Result<std::vector<JobRecord>> listJobs(int64_t runId) override;
  // sql_tests.cc: test cases, results, flakes, quarantines.
  Result<std::vector<int64_t>> testIds(std::string_view project,
                                       const std::vector<TestCaseName>& cases) override;
  Result<std::vector<TestCaseName>> listTestCases(std::string_view project) override;
  Result<int64_t> addTestExecution(const TestExecution& e) override;
  Result<std::vector<TestExecution>> testExecutions(const TestQuery& q) override;
  Status addTestFlakes(const std::vector<TestFlake>& flakes) override;
  Result<std::vector<TestFlake>> listTestFlakes(std::string_view project, int64_t sinceMs) override;
  Result<Quarantine> addQuarantine(const Quarantine& q) override;
  Result<std::optional<Quarantine>> countQuarantineRun(int64_t id, int64_t runId, bool clean,
                                                       int64_t atMs) override;
  Status endQuarantine(int64_t id, std::string_view state, std::string_view by,
                       std::string_view why, int64_t atMs) override;
  Result<std::vector<Quarantine>> listQuarantines(std::string_view project,
                                                  bool activeOnly) override;
  Status addBenchmarks(const std::vector<BenchmarkRecord>& records) override;
  Result<std::vector<BenchmarkRecord>> runBenchmarks(int64_t runId) override;
  Result<std::vector<BenchmarkRecord>> commitBenchmarks(
      std::string_view project, const std::vector<std::string>& commits) override;
  Result<User> addUser(const User& u) override;
  Result<std::optional<User>> findUser(std::string_view name) override;
  Result<std::vector<User>> listUsers() override;
  Status updateUser(const User& u) override;
  Status addSession(const Session& s, std::string_view hash) override;
  Result<std::optional<Session>> findSession(std::string_view hash) override;
  Result<std::vector<Session>> listSessions(std::string_view user) override;
  Status removeSession(std::string_view id) override;
  Status removeSessionsOf(std::string_view user) override;
  Status touchSession(std::string_view id, int64_t atMs) override;
  Result<Token> addToken(const Token& t, std::string_view hash) override;
  Result<std::vector<Token>> listTokens() override;
  Status revokeToken(std::string_view name) override;
  Status touchToken(int64_t id, int64_t atMs) override;
  Result<std::optional<Token>> findToken(std::string_view hash) override;
  Result<int> countTokens() override;
  Result<std::string> integrityCheck() override;
  void releaseMemory() override;

  // sql_delivery.cc: releases, environments, deploys, audit.
  Result<Release> addRelease(const Release& r) override;
  Result<Release> getRelease(std::string_view project, std::string_view version) override;
  Result<std::vector<Release>> listReleases(std::string_view project, int limit) override;
  Status setEnvValue(const EnvValue& v) override;
  Status removeEnvValue(std::string_view project, std::string_view env,
                        std::string_view key) override;
  Result<std::vector<EnvValue>> listEnvValues(std::string_view project,
                                              std::string_view env) override;
  Result<Deploy> createDeploy(const Deploy& d) override;
  Result<Deploy> getDeploy(int64_t id) override;
  Status updateDeploy(const Deploy& d) override;
  Status updateDeployFrom(const Deploy& d, DeployState from) override;
  Result<std::vector<Deploy>> listDeploys(std::string_view project, std::string_view env,
                                          int limit) override;
  Result<std::vector<AppliedMigration>> appliedMigrations(std::string_view project,
                                                          std::string_view env) override;
  Status setMigrationApplied(std::string_view project, std::string_view env,
                             const AppliedMigration& m, bool applied) override;
  Result<std::optional<Deploy>> claimNextDeploy(int64_t nowMs) override;
  Result<std::vector<Deploy>> interruptDeploys(std::string_view reason,
                                               const Orphans& which) override;
  Result<std::vector<std::string>> recentArtifactManifests(int64_t sinceMs) override;
  Result<std::vector<std::string>> releasedArtifactManifests() override;
  Result<Incident> openIncident(const Incident& i) override;
  Result<Incident> getIncident(int64_t id) override;
  Result<std::vector<Incident>> listIncidents(std::string_view project, std::string_view env,
                                              int limit) override;
  Result<std::vector<Incident>> listOpenIncidents(std::string_view project,
                                                  std::string_view env) override;
  Result<std::optional<Incident>> openIncidentWith(std::string_view project,
                                                   std::string_view fingerprint) override;
  Status resolveIncident(int64_t id, std::string_view by, int64_t atMs,
                         std::string_view text) override;
  Status addIncidentEvent(const IncidentEvent& e) override;
  Result<std::vector<IncidentEvent>> incidentEvents(int64_t id) override;
  Result<int64_t> monitorSeries(const MonitorSeries& key) override;
  Result<std::vector<MonitorSeries>> listMonitorSeries(std::string_view project) override;
  Status addMonitorSamples(const std::vector<MonitorSample>& samples) override;
  Result<std::vector<MonitorSample>> monitorSamples(int64_t fromMs, int64_t toMs) override;
  Status putMonitorRollups(const std::vector<MonitorRollup>& rollups, int64_t doneUntilMs) override;
  Result<int64_t> monitorRollupsDoneUntil() override;
  Result<std::vector<MonitorRollup>> monitorRollups(int64_t series, int64_t fromMs) override;
  Status pruneMonitorData(int64_t samplesBeforeMs, int64_t rollupsBeforeMs) override;
  Status putMonitorSnapshot(std::string_view json, int64_t atMs) override;
  Result<std::string> monitorSnapshot() override;
  Result<std::vector<StateCount>> countByState(Counted what) override;
  Status addAudit(const AuditEntry& e) override;
  Result<std::vector<AuditEntry>> listAudit(std::string_view project, int limit) override;
  uint64_t revision() override {
    std::lock_guard lock(mu_);
    return db_.revision(monitorChanges_);
  }

 private:
  Status insertRun(Run& out);
  // An UPDATE of the whole deploy; with `from`, only while it is still in that state.
  Status writeDeploy(const Deploy& d, std::optional<DeployState> from);
  void tellIncident(int64_t id);  // with mu_ held

  // Binds an Orphans condition's four parameters from index `first`.
  void bindOrphans(Statement& s, int first, const Orphans& which);
  // Runs `write` (monitor data) in a transaction, its rows left out of revision().
  Status monitorWrite(const std::function<Status()>& write);

  // The dialect's words where SQLite and PostgreSQL differ.
  bool postgres() const { return db_.dialect() == sql::Dialect::kPostgres; }

  std::mutex mu_;  // guards db_: one connection shared by the HTTP and agent threads
  std::unique_ptr<sql::Connection> conn_;
  sql::Connection& db_;
  int64_t monitorChanges_ = 0;  // rows written by monitorWrite, under mu_
};

}  // namespace boucle::store
