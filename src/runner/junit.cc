#include "runner/junit.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <pugixml.hpp>

#include "core/encoding.h"
#include "os/files.h"

namespace boucle::runner {

namespace {

constexpr size_t kMaxDetails = 4000;

std::string firstLine(std::string_view s) {
  size_t start = s.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return {};
  s.remove_prefix(start);
  return std::string(s.substr(0, s.find('\n')));
}

bool pathChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' ||
         c == '-';
}

// "name.ext" followed by ":digits" at `at`: the location's length, or 0. A name needs a dot
// with letters or digits after it (file.cc, AppTest.java).
size_t locationAt(std::string_view text, size_t at) {
  size_t end = at;
  while (end < text.size() && pathChar(text[end])) ++end;
  std::string_view name = text.substr(at, end - at);
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size()) return 0;
  for (char c : name.substr(dot + 1)) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return 0;
  }
  if (end >= text.size() || text[end] != ':') return 0;
  size_t digits = end + 1;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  return digits > end + 1 ? digits - at : 0;
}

// "path/file.cc:42" at the start of a line (GoogleTest, pytest, most assertion libraries), else
// a stack frame "(AppTest.java:12)" (JVM, .NET). A linear scan, not a regex: the text is the
// job's, of any size, and std::regex recurses per character.
std::string locationIn(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t at = i;
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) ++at;
    if (size_t n = locationAt(text, at)) return std::string(text.substr(at, n));
    size_t nl = text.find('\n', i);
    if (nl == std::string_view::npos) break;
    i = nl + 1;
  }
  for (size_t open = text.find('('); open != std::string_view::npos;
       open = text.find('(', open + 1)) {
    size_t n = locationAt(text, open + 1);
    if (n && open + 1 + n < text.size() && text[open + 1 + n] == ')')
      return std::string(text.substr(open + 1, n));
  }
  return {};
}

constexpr size_t kMaxText = 1000;  // a name, a message, a location
constexpr int kMaxDepth = 32;      // <testsuite> inside <testsuite>

// Cut at a character's start, never inside a UTF-8 sequence.
std::string bounded(std::string s, size_t max = kMaxText) {
  if (s.size() > max) s = cutUtf8(std::move(s), max) + "…";
  return s;
}

// Keeps the case in r.cases (bounded) with how it ended.
void keepCase(const pugi::xml_node& tc, const std::string& suite, Outcome outcome, double seconds,
              TestReport& r) {
  if (r.cases.size() >= kMaxCases) {
    if (r.cases.size() == kMaxCases &&
        (r.warnings.empty() || r.warnings.back().find("cases") == std::string::npos))
      r.warnings.push_back("only the first " + std::to_string(kMaxCases) +
                           " test cases are kept one by one (all are counted)");
    return;
  }
  TestCase c;
  c.suite = bounded(tc.attribute("classname").as_string(suite.c_str()), kMaxTestName);
  c.name = bounded(tc.attribute("name").as_string(), kMaxTestName);
  c.file = bounded(tc.attribute("file").as_string(), kMaxTestName);
  c.outcome = outcome;
  // A negative or absurd time (a broken clock, a hostile file) is kept within a day.
  double us = std::clamp(seconds * 1e6, 0.0, 86400e6);
  c.micros = static_cast<int64_t>(us);
  r.cases.push_back(std::move(c));
}

void readCase(const pugi::xml_node& tc, const std::string& suite, TestReport& r) {
  ++r.tests;
  double seconds = tc.attribute("time").as_double(0);
  if (!std::isfinite(seconds)) seconds = 0;
  r.seconds += seconds;
  // ctest writes status="fail|notrun"; the others use child elements.
  std::string status = tc.attribute("status").as_string();
  pugi::xml_node bad = tc.child("failure");
  std::string kind = "failure";
  if (!bad) {
    bad = tc.child("error");
    kind = "error";
  }
  if (tc.child("skipped") || status == "notrun" || status == "skipped" || status == "disabled") {
    if (!bad) {
      ++r.skipped;
      keepCase(tc, suite, Outcome::kSkipped, seconds, r);
      return;
    }
  }
  if (!bad && status != "fail") {
    keepCase(tc, suite, Outcome::kPassed, seconds, r);
    return;
  }
  (kind == "error" ? r.errors : r.failures)++;
  keepCase(tc, suite, kind == "error" ? Outcome::kError : Outcome::kFailed, seconds, r);
  if (r.failed.size() >= kMaxFailures) return;
  TestFailure f;
  f.suite = bounded(tc.attribute("classname").as_string(suite.c_str()), kMaxTestName);
  f.name = bounded(tc.attribute("name").as_string(), kMaxTestName);
  f.kind = kind;
  std::string body = bad ? bad.text().as_string() : "";
  if (body.empty() && bad) body = bad.child_value();
  f.message = bad ? bad.attribute("message").as_string() : "";
  if (f.message.empty()) f.message = firstLine(body);
  if (f.message.empty()) f.message = kind;
  std::string file = tc.attribute("file").as_string();
  std::string line = tc.attribute("line").as_string();
  if (!file.empty()) {
    f.location = line.empty() ? file : file + ":" + line;
  } else {
    f.location = locationIn(body);
    if (f.location.empty()) f.location = locationIn(f.message);
  }
  f.message = bounded(f.message);
  f.location = bounded(f.location);
  size_t cut = std::min(body.size(), kMaxDetails);
  while (cut < body.size() && cut > 0 && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80)
    --cut;
  f.details = body.substr(0, cut);
  r.failed.push_back(std::move(f));
}

void readSuite(const pugi::xml_node& suite, TestReport& r, int depth = 0) {
  if (depth >= kMaxDepth) {
    if (r.warnings.empty() || r.warnings.back().find("nested") == std::string::npos)
      r.warnings.push_back("test suites nested deeper than 32 levels were not read");
    return;
  }
  std::string name = suite.attribute("name").as_string();
  for (auto child : suite.children()) {
    std::string tag = child.name();
    if (tag == "testcase") readCase(child, name, r);
    // Nested suites (jest, Surefire aggregates), to a bounded depth.
    if (tag == "testsuite") readSuite(child, r, depth + 1);
  }
}

}  // namespace

std::string_view toString(Outcome o) {
  switch (o) {
    case Outcome::kPassed:
      return "passed";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kError:
      return "error";
    case Outcome::kSkipped:
      return "skipped";
  }
  return "passed";
}

std::optional<Outcome> parseOutcome(std::string_view s) {
  for (auto o : {Outcome::kPassed, Outcome::kFailed, Outcome::kError, Outcome::kSkipped})
    if (toString(o) == s) return o;
  return std::nullopt;
}

std::string testKey(std::string_view suite, std::string_view name) {
  std::string k(suite);
  k += " \u203a ";
  k += name;
  return k;
}

void TestReport::merge(const TestReport& o) {
  tests += o.tests;
  failures += o.failures;
  errors += o.errors;
  skipped += o.skipped;
  seconds += o.seconds;
  fromCheckout = fromCheckout || o.fromCheckout;
  failed.insert(failed.end(), o.failed.begin(), o.failed.end());
  if (failed.size() > kMaxFailures) failed.resize(kMaxFailures);
  size_t room = kMaxCases - std::min(kMaxCases, cases.size());
  cases.insert(cases.end(), o.cases.begin(),
               o.cases.begin() + static_cast<ptrdiff_t>(std::min(room, o.cases.size())));
  warnings.insert(warnings.end(), o.warnings.begin(), o.warnings.end());
}

Result<TestReport> parseJUnit(std::string_view xml) {
  pugi::xml_document doc;
  auto res = doc.load_buffer(xml.data(), xml.size());
  if (!res) {
    return Status::Invalid(std::string("not valid XML: ") + res.description() + " at byte " +
                           std::to_string(res.offset));
  }
  TestReport r;
  pugi::xml_node root = doc.document_element();
  std::string tag = root.name();
  if (tag == "testsuites") {
    for (auto s : root.children("testsuite")) readSuite(s, r);
  } else if (tag == "testsuite") {
    readSuite(root, r);
  } else {
    return Status::Invalid("not a JUnit report: the root element is <" + tag +
                           ">, expected <testsuites> or <testsuite>");
  }
  return r;
}

Result<TestReport> parseJUnitFile(const std::filesystem::path& file) {
  auto text = os::readFile(file);
  if (!text.ok()) return text.status();
  auto r = parseJUnit(*text);
  if (!r.ok()) return Status::Invalid(file.string() + ": " + r.status().message());
  return r;
}

}  // namespace boucle::runner
