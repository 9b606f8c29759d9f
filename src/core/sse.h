#pragma once
// Server-Sent Events (the WHATWG text/event-stream format) read back from a stream's pieces:
// what a client of GET /api/events needs. A browser has EventSource; the command line has this.

#include <functional>
#include <string>
#include <string_view>

namespace boucle {

struct SseEvent {
  std::string id, type, data;  // type "message" when the frame names none
};

// Whole events out of pieces cut anywhere (a frame may span pieces, lines may end with CRLF,
// LF or CR). Comments and `retry:` lines are skipped, and so is a frame without data, as
// browsers do. A frame longer than 1 MiB is refused (the stream stops there): the server's are
// a few hundred bytes, and a broken or hostile one cannot fill the memory.
class SseParser {
 public:
  // False when `onEvent` said false (stop): what came after stays unread.
  bool feed(std::string_view piece, const std::function<bool(const SseEvent&)>& onEvent);
  // The last id the stream gave (with an event or alone): where to resume from.
  const std::string& lastId() const { return lastId_; }

 private:
  void take(std::string_view line);  // one field line of the event being read

  std::string pending_;  // the unfinished line
  SseEvent event_;       // the event being read
  bool hasData_ = false;
  bool skipLf_ = false;  // the last piece ended with a CR: a LF first in the next one is its pair
  std::string lastId_;
};

}  // namespace boucle
