#include "runner/test_verdict.h"

#include <algorithm>

namespace boucle::runner {

std::vector<std::string> failingTests(const TestReport& t) {
  std::set<std::string> keys;
  for (const auto& c : t.cases)
    if (c.failed()) keys.insert(testKey(c.suite, c.name));
  for (const auto& f : t.failed) keys.insert(testKey(f.suite, f.name));
  return {keys.begin(), keys.end()};
}

bool onlyQuarantinedFailed(const TestReport& t, const std::set<std::string>& quarantined) {
  int failing = t.failures + t.errors;
  // A report that was not all read (a file unreadable, too big, or part of the commit rather
  // than written by the job) may hide the failure that counts.
  if (failing == 0 || quarantined.empty() || !t.warnings.empty() || t.fromCheckout) return false;
  size_t named = static_cast<size_t>(
      std::count_if(t.cases.begin(), t.cases.end(), [](const TestCase& c) { return c.failed(); }));
  if (named < static_cast<size_t>(failing)) return false;
  auto keys = failingTests(t);
  return std::all_of(keys.begin(), keys.end(),
                     [&](const std::string& k) { return quarantined.contains(k); });
}

std::vector<std::string> flakyAcross(const std::vector<RetriedAttempt>& earlier,
                                     const std::optional<TestReport>& last) {
  std::set<std::string> failedBefore;
  for (const auto& a : earlier) {
    if (!a.tests) continue;
    for (auto& k : failingTests(*a.tests)) failedBefore.insert(std::move(k));
  }
  std::set<std::string> failingNow;
  std::set<std::string> passedNow;
  if (last) {
    for (auto& k : failingTests(*last)) failingNow.insert(std::move(k));
    for (const auto& c : last->cases)
      if (c.outcome == Outcome::kPassed) passedNow.insert(testKey(c.suite, c.name));
  }
  // A test that vanished from the last report (not run again) did not pass: only a pass counts.
  std::vector<std::string> out;
  for (const auto& k : failedBefore)
    if (!failingNow.contains(k) && passedNow.contains(k)) out.push_back(k);
  return out;
}

}  // namespace boucle::runner
