#pragma once
// Reads JUnit XML test reports as written by GoogleTest, pytest, Maven Surefire, jest-junit,
// go-junit-report and ctest. Totals are counted from the test cases themselves rather than
// trusted from the (often missing or stale) attributes of <testsuite>.

#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"

namespace boucle::runner {

struct TestFailure {
  std::string suite;
  std::string name;
  std::string kind;      // "failure" or "error"
  std::string message;   // first line-ish summary
  std::string location;  // "file:line" when the report says, else empty
  std::string details;   // body text, truncated
};

struct TestReport {
  int tests = 0;
  int failures = 0;
  int errors = 0;
  int skipped = 0;
  double seconds = 0;
  std::vector<TestFailure> failed;
  std::vector<std::string> warnings;  // unreadable reports, one line each

  void merge(const TestReport& other);
  int passed() const { return tests - failures - errors - skipped; }
};

// Parses one report. A malformed file yields an Invalid status with the parser's message and
// offset, never a crash.
Result<TestReport> parseJUnit(std::string_view xml);
Result<TestReport> parseJUnitFile(const std::filesystem::path& file);

}  // namespace boucle::runner
