#include "core/sse.h"

#include <gtest/gtest.h>

#include <vector>

namespace boucle {
namespace {

constexpr std::string_view kStream =
    "retry: 3000\n\n"
    ": keep-alive\n\n"
    "id: 7\nevent: run\ndata: {\"id\": 1}\n\n"
    "data: first\ndata: second\n\n"
    "id: 9\nevent: reset\ndata: {}\n\n";

std::vector<SseEvent> readAll(const std::vector<std::string_view>& pieces) {
  SseParser p;
  std::vector<SseEvent> out;
  for (auto piece : pieces) {
    p.feed(piece, [&](const SseEvent& e) {
      out.push_back(e);
      return true;
    });
  }
  return out;
}

TEST(Sse, ReadsEventsWhereverThePiecesAreCut) {
  // Cut at every byte: the same events.
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < kStream.size(); ++i) bytes.push_back(kStream.substr(i, 1));
  for (const auto& events : {readAll({kStream}), readAll(bytes)}) {
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].id, "7");
    EXPECT_EQ(events[0].type, "run");
    EXPECT_EQ(events[0].data, "{\"id\": 1}");
    EXPECT_EQ(events[1].type, "message");
    EXPECT_EQ(events[1].data, "first\nsecond");
    EXPECT_EQ(events[2].type, "reset");
  }
}

TEST(Sse, LinesMayEndWithCrLfOrCrAlone) {
  for (std::string_view eol : {"\r\n", "\r"}) {
    std::string stream;
    for (char c : kStream) {
      if (c == '\n') {
        stream += eol;
      } else {
        stream += c;
      }
    }
    // Whole, and cut at every byte (a CRLF split between two pieces is one line end).
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < stream.size(); ++i)
      bytes.push_back(std::string_view(stream).substr(i, 1));
    for (const auto& events : {readAll({stream}), readAll(bytes)}) {
      ASSERT_EQ(events.size(), 3u) << "line ends " << (eol.size() == 2 ? "CRLF" : "CR");
      EXPECT_EQ(events[0].id, "7");
      EXPECT_EQ(events[0].data, "{\"id\": 1}");
      EXPECT_EQ(events[1].data, "first\nsecond");
      EXPECT_EQ(events[2].type, "reset");
    }
  }
}

TEST(Sse, AFrameWithoutDataIsNoEvent) {
  auto events = readAll({"event: run\n\nevent: job\ndata: x\n\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "job");  // the first frame's type does not carry over
}

TEST(Sse, RemembersTheLastIdEvenWithoutAnEvent) {
  SseParser p;
  p.feed("id: 12\n: keep-alive\n\n", [](const SseEvent&) {
    ADD_FAILURE() << "a keep-alive is no event";
    return true;
  });
  EXPECT_EQ(p.lastId(), "12");
}

TEST(Sse, AFrameThatNeverEndsIsRefused) {
  SseParser p;
  std::string endless(64 * 1024, 'x');
  bool going = true;
  for (int i = 0; i < 20 && going; ++i) {
    going = p.feed("data: " + endless, [](const SseEvent&) { return true; });
  }
  EXPECT_FALSE(going);
}

TEST(Sse, StopsWhenTold) {
  SseParser p;
  int seen = 0;
  EXPECT_FALSE(p.feed(kStream, [&](const SseEvent&) { return ++seen < 1; }));
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace boucle
