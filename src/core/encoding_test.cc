#include "core/encoding.h"

#include <gtest/gtest.h>

#include "os/process.h"

namespace boucle {
namespace {

TEST(Encoding, HexAndBase64) {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
  EXPECT_EQ(hexOf(bytes, sizeof bytes), "000fa5ff");
  EXPECT_EQ(hexOf(bytes, 0), "");
  EXPECT_EQ(base64Of("ci-bot:s3cret"), "Y2ktYm90OnMzY3JldA==");
  EXPECT_EQ(base64Of(""), "");
  EXPECT_EQ(bytesOfBase64("Y2ktYm90OnMzY3JldA=="), "ci-bot:s3cret");
  EXPECT_EQ(bytesOfBase64(base64Of(std::string("\0\xff\x01", 3))), std::string("\0\xff\x01", 3));
  EXPECT_EQ(bytesOfBase64(""), "");
  EXPECT_FALSE(bytesOfBase64("not base64!").has_value());
}

TEST(Encoding, SplitKeepsInnerEmptyPiecesButNoTrailingOne) {
  EXPECT_EQ(split("", '\n'), std::vector<std::string>{});
  EXPECT_EQ(split("a\nb\n", '\n'), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(split("a\n\nb", '\n'), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split(std::string_view("sha\0author\0\0", 12), '\0'),
            (std::vector<std::string>{"sha", "author", ""}));
}

}  // namespace
}  // namespace boucle

namespace boucle {
namespace {

TEST(Encoding, HexRoundTripsAndRefusesWhatIsNotHex) {
  std::string bytes("\x00\xff\x10 a", 5);
  auto back = bytesOfHex(hexOf(bytes.data(), bytes.size()));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, bytes);
  EXPECT_FALSE(bytesOfHex("abc"));
  EXPECT_FALSE(bytesOfHex("zz"));
  EXPECT_EQ(bytesOfHex(""), std::string());
}

TEST(Encoding, ShellQuoteSurvivesARealShell) {
  // What a remote shell would make of a hostile value: printed back unchanged, nothing run.
  for (std::string v :
       {"plain", "", "it's", "$(touch /tmp/pwned) `id` \\n; rm -rf / #", "'\"'\n"}) {
    auto r = os::runAndCapture({"/bin/sh", "-c", "printf %s " + shellQuote(v)});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->output, v);
  }
}

}  // namespace
}  // namespace boucle

namespace boucle {
namespace {

TEST(Encoding, CutUtf8NeverSplitsACharacter) {
  EXPECT_EQ(cutUtf8("abc", 10), "abc");
  EXPECT_EQ(cutUtf8("abcdef", 3), "abc");
  EXPECT_EQ(cutUtf8("ab\xC3\xA9z", 3), "ab");  // é is two bytes: cut before it
  EXPECT_EQ(cutUtf8("ab\xC3\xA9z", 4), "ab\xC3\xA9");
  EXPECT_EQ(cutUtf8("\xE2\x82\xAC", 2), "");  // € is three bytes
}

TEST(Encoding, CleanUtf8KeepsWellFormedTextAndReplacesEachBadByte) {
  const std::string fine = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80 plain";
  EXPECT_TRUE(isCleanUtf8(fine));
  EXPECT_EQ(cleanUtf8(fine), fine);
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_FALSE(isCleanUtf8("caf\xE9"));  // Latin-1 é
  EXPECT_EQ(cleanUtf8("caf\xE9!"), "caf" + r + "!");
  EXPECT_EQ(cleanUtf8(std::string("a\0b", 3)), "a" + r + "b");
  EXPECT_EQ(cleanUtf8("\xC0\xAF"), r + r);                  // an overlong '/'
  EXPECT_EQ(cleanUtf8("\xED\xA0\x80"), r + r + r);          // a UTF-16 surrogate
  EXPECT_EQ(cleanUtf8("\xF4\x90\x80\x80"), r + r + r + r);  // past U+10FFFF
  EXPECT_EQ(cleanUtf8("ok\xE2\x82"), "ok" + r + r);         // cut short at the end
}

}  // namespace
}  // namespace boucle
