#include "runner/junit.h"

#include <gtest/gtest.h>

namespace boucle::runner {
namespace {

TEST(JUnit, ReadsGoogleTestReports) {
  auto r = parseJUnit(R"(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" failures="1" disabled="0" errors="0" time="0.01" name="AllTests">
  <testsuite name="Math" tests="3" failures="1" time="0.01">
    <testcase name="Adds" file="src/math_test.cc" line="10" status="run" result="completed" time="0" classname="Math" />
    <testcase name="Divides" file="src/math_test.cc" line="14" status="run" result="completed" time="0" classname="Math">
      <failure message="src/math_test.cc:16&#x0A;Expected equality of these values:&#x0A;  3&#x0A;  4" type=""><![CDATA[src/math_test.cc:16
Expected equality of these values:
  3
  4]]></failure>
    </testcase>
    <testcase name="Skipped" status="run" result="skipped" classname="Math"><skipped message="later"/></testcase>
  </testsuite>
</testsuites>)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->tests, 3);
  EXPECT_EQ(r->failures, 1);
  EXPECT_EQ(r->skipped, 1);
  EXPECT_EQ(r->passed(), 1);
  ASSERT_EQ(r->failed.size(), 1u);
  EXPECT_EQ(r->failed[0].name, "Divides");
  EXPECT_EQ(r->failed[0].suite, "Math");
  EXPECT_EQ(r->failed[0].location, "src/math_test.cc:14");
}

TEST(JUnit, KeepsEveryCaseWithItsOutcomeFileAndDuration) {
  auto r = parseJUnit(R"(<testsuites><testsuite name="Math">
    <testcase name="Adds" file="src/math_test.cc" line="10" time="0.0125" classname="Math"/>
    <testcase name="Divides" classname="Math" time="2"><failure message="no"/></testcase>
    <testcase name="Crashes" classname="Math" time="-5"><error message="segv"/></testcase>
    <testcase name="Later" classname="Math" time="nan"><skipped/></testcase>
  </testsuite></testsuites>)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->cases.size(), 4u);
  EXPECT_EQ(testKey(r->cases[0].suite, r->cases[0].name), "Math \u203a Adds");
  EXPECT_EQ(r->cases[0].file, "src/math_test.cc");
  EXPECT_EQ(r->cases[0].outcome, Outcome::kPassed);
  EXPECT_EQ(r->cases[0].micros, 12500);
  EXPECT_EQ(r->cases[1].outcome, Outcome::kFailed);
  EXPECT_EQ(r->cases[1].micros, 2000000);
  EXPECT_TRUE(r->cases[1].failed());
  EXPECT_EQ(r->cases[2].outcome, Outcome::kError);
  EXPECT_EQ(r->cases[2].micros, 0);  // a negative time is no time
  EXPECT_EQ(r->cases[3].outcome, Outcome::kSkipped);
  EXPECT_EQ(r->cases[3].micros, 0);
  EXPECT_EQ(parseOutcome("error"), Outcome::kError);
  EXPECT_FALSE(parseOutcome("fine").has_value());
}

TEST(JUnit, ReadsPytestAndSurefireStyle) {
  auto py = parseJUnit(R"(<testsuites><testsuite name="pytest" errors="1" failures="1" tests="3">
<testcase classname="tests.test_app" name="test_ok" time="0.001"/>
<testcase classname="tests.test_app" name="test_bad" time="0.002"><failure message="assert 1 == 2">def test_bad():
&gt;       assert 1 == 2
E       assert 1 == 2

tests/test_app.py:7: AssertionError</failure></testcase>
<testcase classname="tests.test_app" name="test_err"><error message="fixture 'db' not found"/></testcase>
</testsuite></testsuites>)");
  ASSERT_TRUE(py.ok());
  EXPECT_EQ(py->tests, 3);
  EXPECT_EQ(py->failures, 1);
  EXPECT_EQ(py->errors, 1);
  EXPECT_EQ(py->failed[0].message, "assert 1 == 2");
  EXPECT_EQ(py->failed[0].location, "tests/test_app.py:7");
  EXPECT_EQ(py->failed[1].kind, "error");

  auto surefire = parseJUnit(R"(<testsuite name="com.ex.AppTest" tests="1" failures="1">
<testcase name="checks" classname="com.ex.AppTest" time="0.1">
<failure message="expected:&lt;1&gt; but was:&lt;2&gt;" type="org.opentest4j.AssertionFailedError">org.opentest4j.AssertionFailedError: expected:&lt;1&gt; but was:&lt;2&gt;
	at com.ex.AppTest.checks(AppTest.java:12)</failure></testcase></testsuite>)");
  ASSERT_TRUE(surefire.ok());
  EXPECT_EQ(surefire->failed[0].location, "AppTest.java:12");
  EXPECT_EQ(surefire->failed[0].message, "expected:<1> but was:<2>");
}

TEST(JUnit, ReadsCtestStatusAttributes) {
  auto r = parseJUnit(R"(<testsuite name="host" tests="3" failures="1" skipped="1">
<testcase name="unit" classname="unit" time="0.1" status="run"/>
<testcase name="slow" classname="slow" time="0.1" status="fail"><failure message="Failed"/></testcase>
<testcase name="gone" classname="gone" status="notrun"><skipped message="Disabled"/></testcase>
</testsuite>)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tests, 3);
  EXPECT_EQ(r->failures, 1);
  EXPECT_EQ(r->skipped, 1);
}

TEST(JUnit, MalformedReportIsAnErrorNotACrash) {
  auto r = parseJUnit("<testsuite><testcase name='x'>");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not valid XML"), std::string::npos);
  auto wrong = parseJUnit("<html><body/></html>");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("<html>"), std::string::npos);
  EXPECT_FALSE(parseJUnit("").ok());
}

}  // namespace
}  // namespace boucle::runner

namespace boucle::runner {
namespace {

// Reports are the job's own files: nesting and sizes that would exhaust the stack or the
// server's memory are read within bounds.
TEST(JUnit, DeepNestingAndHugeMessagesAreReadWithinBounds) {
  std::string deep;
  for (int i = 0; i < 300000; ++i) deep += "<testsuite>";
  deep += "<testcase name=\"t\"/>";
  for (int i = 0; i < 300000; ++i) deep += "</testsuite>";
  auto r = parseJUnit(deep);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->tests, 0);
  ASSERT_FALSE(r->warnings.empty());
  EXPECT_NE(r->warnings[0].find("nested"), std::string::npos);

  std::string huge(400 * 1024, 'a');
  huge += "\nsrc/x.cc:12\n";
  std::string xml = "<testsuite><testcase classname=\"s\" name=\"t\"><failure message=\"" +
                    std::string(400 * 1024, 'm') + "\">" + huge +
                    "</failure></testcase></testsuite>";
  auto big = parseJUnit(xml);
  ASSERT_TRUE(big.ok());
  ASSERT_EQ(big->failed.size(), 1u);
  EXPECT_LE(big->failed[0].message.size(), 1010u);
  EXPECT_LE(big->failed[0].details.size(), 4000u);
  EXPECT_EQ(big->failed[0].location, "src/x.cc:12");
}

// Whether `s` is whole UTF-8 sequences (lead byte then its continuation bytes).
bool wholeUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

TEST(JUnit, TextIsCutBetweenCharactersNeverInsideOne) {
  // "a" then two-byte characters: byte 1000, where the cut falls, is inside one.
  std::string accents;
  for (int i = 0; i < 3000; ++i) accents += "\xc3\xa9";
  std::string xml = "<testsuite><testcase classname=\"a" + accents + "\" name=\"a" + accents +
                    "\"><failure message=\"a" + accents + "\">a" + accents +
                    "</failure></testcase></testsuite>";
  auto r = parseJUnit(xml);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->failed.size(), 1u);
  const auto& f = r->failed[0];
  for (const std::string* text : {&f.suite, &f.name, &f.message, &f.details}) {
    EXPECT_LT(text->size(), accents.size());
    EXPECT_TRUE(wholeUtf8(*text)) << text->substr(text->size() - 8);
  }
}

TEST(JUnit, LocationsAreFoundWithoutARegex) {
  auto at = [](const std::string& body) {
    auto r = parseJUnit("<testsuite><testcase name=\"t\"><failure>" + body +
                        "</failure></testcase></testsuite>");
    return r.ok() && !r->failed.empty() ? r->failed[0].location : std::string("?");
  };
  EXPECT_EQ(at("Expected 1\n  tests/a_test.py:42: AssertionError"), "tests/a_test.py:42");
  EXPECT_EQ(at("at com.x.AppTest.check(AppTest.java:12)"), "AppTest.java:12");
  EXPECT_EQ(at("no location here: 12"), "");
  EXPECT_EQ(at(std::string(100000, '(') + "x"), "");
}

}  // namespace
}  // namespace boucle::runner
