#include "runner/masker.h"

#include <gtest/gtest.h>

namespace boucle::runner {
namespace {

std::string maskAll(const std::vector<std::string>& secrets,
                    const std::vector<std::string>& chunks) {
  Masker m(secrets);
  std::string out;
  for (const auto& c : chunks) m.feed(c, out);
  m.finish(out);
  return out;
}

std::string maskOne(const std::string& secret, const std::string& text) {
  return maskAll({secret}, {text});
}

TEST(Masker, PassesOrdinaryOutputThroughUnchanged) {
  std::string text = "line one\n\x1b[31mred\x1b[0m\nno secrets here\n";
  EXPECT_EQ(maskOne("hunter2", text), text);
  EXPECT_EQ(maskAll({}, {text}), text);
}

TEST(Masker, MasksRawValueEverywhere) {
  EXPECT_EQ(maskOne("hunter2", "pw=hunter2 and hunter2\n"), "pw=*** and ***\n");
  EXPECT_EQ(maskOne("x", "axbx"), "a***b***");  // no minimum length
}

TEST(Masker, MasksSecretSplitAcrossWritesAtEverySplitPoint) {
  std::string text = "token: s3cr3t-value!\n";
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      EXPECT_EQ(
          maskAll({"s3cr3t-value!"}, {text.substr(0, i), text.substr(i, j - i), text.substr(j)}),
          "token: ***\n")
          << i << "," << j;
    }
  }
}

TEST(Masker, ReleasesBytesThatCannotStartASecretAtOnce) {
  Masker m({"hunter2"});
  std::string out;
  m.feed("hello hun", out);
  EXPECT_EQ(out, "hello ");  // "hun" might be the start of the secret: held back
  m.feed("gry\n", out);
  EXPECT_EQ(out, "hello hungry\n");
}

TEST(Masker, MasksBase64AtEveryAlignment) {
  const std::string secret = "correct horse battery staple";
  // Standalone, as `echo -n $SECRET | base64` prints it.
  EXPECT_EQ(maskOne(secret, "Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ==\n"), "***\n");
  // Inside a longer blob (e.g. a base64 "user:password" header) at offsets 1 and 2.
  std::string b1 = "YWNvcnJlY3QgaG9yc2UgYmF0dGVyeSBzdGFwbGU=";  // "a" + secret
  std::string b2 = "YWJjb3JyZWN0IGhvcnNlIGJhdHRlcnkgc3RhcGxl";  // "ab" + secret
  EXPECT_EQ(maskOne(secret, b1).find("cnJlY3QgaG9yc2UgYmF0dGVyeSBzdGFwbG"), std::string::npos);
  EXPECT_EQ(maskOne(secret, b2).find("IGhvcnNlIGJhdHRlcnkgc3RhcGxl"), std::string::npos);
  EXPECT_NE(maskOne(secret, b1).find("***"), std::string::npos);
  EXPECT_NE(maskOne(secret, b2).find("***"), std::string::npos);
}

TEST(Masker, MasksUrlEncodedAndJsonEscapedForms) {
  const std::string secret = "p@ss w/rd&\"q\"";
  EXPECT_EQ(maskOne(secret, "url=p%40ss%20w%2Frd%26%22q%22\n"), "url=***\n");
  EXPECT_EQ(maskOne(secret, "url=p%40ss+w%2Frd%26%22q%22\n"), "url=***\n");
  EXPECT_EQ(maskOne(secret, "url=p%40ss%20w%2frd%26%22q%22\n"), "url=***\n");
  EXPECT_EQ(maskOne(secret, R"({"pw":"p@ss w/rd&\"q\""})"), R"({"pw":"***"})");
}

TEST(Masker, MasksEachLineOfAMultiLineSecret) {
  const std::string pem =
      "-----BEGIN PRIVATE KEY-----\n"
      "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
      "BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
      "-----END PRIVATE KEY-----\n";
  std::string out = maskOne(pem,
                            "key line:   MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\r\nnext "
                            "BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n");
  EXPECT_EQ(out, "key line:   ***\r\nnext ***\n");
  EXPECT_EQ(maskOne(pem, "-----BEGIN PRIVATE KEY-----\n"), "-----BEGIN PRIVATE KEY-----\n");
  // JSON credentials printed as one escaped line.
  const std::string json = "{\n  \"private_key\": \"abc\\ndef\"\n}";
  EXPECT_EQ(maskOne(json, "if (x) { y(); }\n"), "if (x) { y(); }\n");  // "{" alone is not masked
  EXPECT_EQ(maskOne(json, "creds: {\\n  \\\"private_key\\\": \\\"abc\\\\ndef\\\"\\n}\n"),
            "creds: ***\n");
}

TEST(Masker, OverlappingSecretsAreMaskedAsOne) {
  EXPECT_EQ(maskAll({"abcd", "cdef"}, {"xxabcdefyy"}), "xx***yy");
  EXPECT_EQ(maskAll({"aaa"}, {"aaaaa!"}), "***!");
}

TEST(Masker, ByteByByteFeedingGivesTheSameResult) {
  std::string text = "a hunter2 b aHVudGVyMg== c hunter%32 d";
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  EXPECT_EQ(maskAll({"hunter2"}, bytes), maskAll({"hunter2"}, {text}));
  EXPECT_EQ(maskAll({"hunter2"}, {text}), "a *** b *** c hunter%32 d");
}

}  // namespace
}  // namespace boucle::runner
