#pragma once
// Reads JUnit XML test reports as written by GoogleTest, pytest, Maven Surefire, jest-junit,
// go-junit-report and ctest. Totals are counted from the test cases themselves rather than
// trusted from the (often missing or stale) attributes of <testsuite>.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
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

// How a test case ended, in the order the store keeps it.
enum class Outcome : uint8_t { kPassed = 0, kFailed = 1, kError = 2, kSkipped = 3 };
std::string_view toString(Outcome o);  // "passed", "failed", "error", "skipped"
std::optional<Outcome> parseOutcome(std::string_view s);

// Every case a report names, passed or not: what a test's history is made of.
struct TestCase {
  std::string suite;
  std::string name;
  std::string file;  // the source file when the report says ("" when not)
  Outcome outcome = Outcome::kPassed;
  int64_t micros = 0;
  bool failed() const { return outcome == Outcome::kFailed || outcome == Outcome::kError; }
};

// How people and the command line name a test: "suite › name" (the suite alone names nothing).
std::string testKey(std::string_view suite, std::string_view name);

struct TestReport {
  int tests = 0;
  int failures = 0;
  int errors = 0;
  int skipped = 0;
  double seconds = 0;
  std::vector<TestFailure> failed;
  std::vector<TestCase> cases;        // every case, up to kMaxCases (all are counted)
  std::vector<std::string> warnings;  // unreadable reports, one line each
  // A report file the commit itself holds (not written by the job): never evidence that
  // excuses a failure.
  bool fromCheckout = false;

  void merge(const TestReport& other);
  int passed() const { return tests - failures - errors - skipped; }
};

// What a report may hold in memory, whatever the job wrote: reports are the job's own files.
inline constexpr size_t kMaxCases = 20000;    // cases kept (all are counted)
inline constexpr size_t kMaxTestName = 256;   // a suite's, a test's or a file's name
inline constexpr size_t kMaxFailures = 1000;  // failures kept with their text

// Parses one report. A malformed file yields an Invalid status with the parser's message and
// offset, never a crash.
Result<TestReport> parseJUnit(std::string_view xml);
Result<TestReport> parseJUnitFile(const std::filesystem::path& file);

}  // namespace boucle::runner
