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

// Found by the fuzzer's seed corpus: adjacent (not overlapping) matches were merged when found
// together but not when the first was already released, so the output depended on the cuts.
TEST(Masker, AdjacentMatchesGiveTheSameOutputWhateverTheCuts) {
  std::string whole = maskAll({"aaa", "aab"}, {"aaaaabaaab"});
  EXPECT_EQ(whole, "******");
  std::vector<std::string> bytes;
  for (char c : std::string("aaaaabaaab")) bytes.emplace_back(1, c);
  EXPECT_EQ(maskAll({"aaa", "aab"}, bytes), whole);
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

std::string wrap(const std::string& s, size_t width, const char* nl = "\n") {
  std::string out;
  for (size_t i = 0; i < s.size(); i += width) out += s.substr(i, width) + nl;
  return out;
}

std::string b64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out += t[(v >> (6 * k)) & 63];
  }
  if (in.size() - i == 1) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += std::string{t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (in.size() - i == 2) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += std::string{t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

std::string hexOf(const std::string& in, bool upper) {
  const char* d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (unsigned char c : in) out += std::string{d[c >> 4], d[c & 15]};
  return out;
}

// 16 KB of random bytes: a private key or a keystore, the secrets that used to cost the most.
std::string bigSecret() {
  std::string s;
  uint32_t x = 12345;
  for (int i = 0; i < 16384; ++i) {
    x = x * 1103515245 + 12345;
    s += static_cast<char>(x >> 16);
  }
  return s;
}

TEST(Masker, MasksWrappedBase64AndHexOfALongSecretWhereverTheLinesBreak) {
  const std::string secret = bigSecret();
  Masker m({secret});
  EXPECT_LT(m.memoryBytes(), 2u << 20) << "per 16 KB secret";
  // `base64` (76 columns), PEM (64, CRLF), xxd -p (60), and embedded after other bytes.
  for (const std::string& text :
       {wrap(b64(secret), 76), wrap(b64(secret), 64, "\r\n"), wrap(hexOf(secret, false), 60),
        hexOf(secret, true) + "\n", wrap(b64("user:" + secret + ":tail"), 76)}) {
    std::string out = m.mask("before\n" + text + "after\n");
    EXPECT_LT(out.size(), 200u) << out.substr(0, 200);
    EXPECT_EQ(out.substr(0, 7), "before\n");
    EXPECT_NE(out.find("***"), std::string::npos);
    EXPECT_TRUE(out.ends_with("after\n")) << out.substr(out.size() - 100);
  }
  EXPECT_EQ(m.mask(secret), "***");
}

TEST(Masker, AWrappedSecretIsMaskedWhateverTheWritesAreCutInto) {
  const std::string secret = "-----BEGIN KEY-----\n" + bigSecret().substr(0, 3000);
  std::string text = "log start\n" + wrap(b64(secret), 76) + "done " + secret + " end\n";
  Masker whole({secret});
  std::string expected = whole.mask(text);
  EXPECT_EQ(expected, "log start\n***\ndone *** end\n");  // the last line break stays
  uint32_t x = 7;
  for (int round = 0; round < 20; ++round) {
    Masker m = whole.fresh();
    std::string out;
    for (size_t at = 0; at < text.size();) {
      x = x * 1103515245 + 12345;
      size_t n = 1 + (x >> 16) % 300;
      m.feed(std::string_view(text).substr(at, n), out);
      at += n;
    }
    m.finish(out);
    EXPECT_EQ(out, expected) << round;
  }
}

TEST(Masker, MasksMorePercentAndJsonForms) {
  const std::string secret = "a b/c+d";
  EXPECT_EQ(maskOne(secret, "q=a%20b/c%2Bd\n"), "q=***\n");    // Python's quote keeps '/'
  EXPECT_EQ(maskOne(secret, "q=a+b%2Fc%2Bd\n"), "q=***\n");    // form encoding
  EXPECT_EQ(maskOne(secret, "q=a%20b%2fc%2bd\n"), "q=***\n");  // lower case
  EXPECT_EQ(maskOne("x\x1by/z", R"({"k":"x\u001By\/z"})"), R"({"k":"***"})");
  EXPECT_EQ(maskOne("x\x1by/z", R"({"k":"x\u001by/z"})"), R"({"k":"***"})");
  // json.dumps' default: everything beyond ASCII escaped, astral planes as surrogate pairs.
  EXPECT_EQ(maskOne("p\xc3\xa4ss\xf0\x9d\x84\x9e", R"({"pw":"p\u00e4ss\ud834\udd1e"})"),
            R"({"pw":"***"})");
  EXPECT_EQ(maskOne("hunter22", "hex 68756e7465723232 HEX 68756E7465723232\n"),
            "hex *** HEX ***\n");
}

TEST(Masker, FreshStreamsShareTheAutomataAndStartEmpty) {
  Masker m({"hunter2"});
  std::string out;
  m.feed("pw: hun", out);
  Masker other = m.fresh();
  std::string o2;
  other.feed("ter2 is fine", o2);
  other.finish(o2);
  EXPECT_EQ(o2, "ter2 is fine");  // nothing of the first stream's held bytes
  m.feed("ter2\n", out);
  m.finish(out);
  EXPECT_EQ(out, "pw: ***\n");
  EXPECT_EQ(m.memoryBytes(), other.memoryBytes());
}

}  // namespace
}  // namespace boucle::runner
