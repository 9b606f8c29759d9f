#pragma once
// What a job's test reports say beyond its exit code: which tests flaked across its attempts,
// and whether it failed only by tests the project quarantined.

#include <set>
#include <string>
#include <vector>

#include "runner/junit.h"

namespace boucle::runner {

// An attempt of a job that failed and was tried again, with what its tests said.
struct RetriedAttempt {
  int attempt = 1;
  std::string agent;  // the remote agent that ran it ("" here)
  std::string reason;
  std::optional<TestReport> tests;
};

// The failing tests of a report ("suite › name"), sorted and unique: its failing cases, and the
// failures it named beyond them.
std::vector<std::string> failingTests(const TestReport& t);

// Whether every failure of the report is a quarantined test (and there is at least one). A
// report whose failures are not all named (more than it keeps) is never excused.
bool onlyQuarantinedFailed(const TestReport& t, const std::set<std::string>& quarantined);

// The tests that failed in an attempt before the last and did not fail in the last: they
// failed and passed on the same commit.
std::vector<std::string> flakyAcross(const std::vector<RetriedAttempt>& earlier,
                                     const std::optional<TestReport>& last);

}  // namespace boucle::runner
