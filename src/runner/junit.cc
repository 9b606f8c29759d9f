#include "runner/junit.h"

#include <pugixml.hpp>
#include <regex>

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

// "path/file.cc:42" at the start of a line (GoogleTest, pytest, most assertion libraries), else
// a stack frame "(AppTest.java:12)" (JVM, .NET).
std::string locationIn(const std::string& text) {
  static const std::regex lineStart(R"((?:^|\n)\s*([A-Za-z0-9_./\-]+\.[A-Za-z0-9]+):(\d+))");
  static const std::regex frame(R"(\(([A-Za-z0-9_./\-]+\.[A-Za-z0-9]+):(\d+)\))");
  std::smatch m;
  if (std::regex_search(text, m, lineStart) || std::regex_search(text, m, frame)) {
    return m[1].str() + ":" + m[2].str();
  }
  return {};
}

void readCase(const pugi::xml_node& tc, const std::string& suite, TestReport& r) {
  ++r.tests;
  r.seconds += tc.attribute("time").as_double(0);
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
      return;
    }
  }
  if (!bad && status != "fail") return;
  (kind == "error" ? r.errors : r.failures)++;
  TestFailure f;
  f.suite = tc.attribute("classname").as_string(suite.c_str());
  f.name = tc.attribute("name").as_string();
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
  f.details = body.substr(0, kMaxDetails);
  r.failed.push_back(std::move(f));
}

void readSuite(const pugi::xml_node& suite, TestReport& r) {
  std::string name = suite.attribute("name").as_string();
  for (auto child : suite.children()) {
    std::string tag = child.name();
    if (tag == "testcase") readCase(child, name, r);
    if (tag == "testsuite") readSuite(child, r);  // nested suites (jest, Surefire aggregates)
  }
}

}  // namespace

void TestReport::merge(const TestReport& o) {
  tests += o.tests;
  failures += o.failures;
  errors += o.errors;
  skipped += o.skipped;
  seconds += o.seconds;
  failed.insert(failed.end(), o.failed.begin(), o.failed.end());
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
