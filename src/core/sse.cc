#include "core/sse.h"

namespace boucle {

namespace {

// The server's frames are a few hundred bytes: a broken or hostile stream cannot fill the memory.
constexpr size_t kMaxFrame = 1 << 20;

}  // namespace

// Line by line as the format says: a line ends with CRLF, LF or CR alone, and an empty line
// ends the event.
bool SseParser::feed(std::string_view piece, const std::function<bool(const SseEvent&)>& onEvent) {
  pending_.append(piece);
  size_t at = 0;
  for (;;) {
    if (skipLf_ && at < pending_.size()) {
      // The CR that ended the last line was the first half of a CRLF split between pieces.
      if (pending_[at] == '\n') ++at;
      skipLf_ = false;
    }
    size_t eol = pending_.find_first_of("\r\n", at);
    if (eol == std::string::npos) break;
    std::string_view line(pending_.data() + at, eol - at);
    at = eol + 1;
    if (pending_[eol] == '\r') {
      if (at < pending_.size()) {
        if (pending_[at] == '\n') ++at;
      } else {
        skipLf_ = true;
      }
    }
    if (!line.empty()) {
      take(line);
      continue;
    }
    // The end of an event: one with data is told, whatever else it said is forgotten.
    bool told = hasData_;
    SseEvent e = std::move(event_);
    event_ = SseEvent{};
    hasData_ = false;
    if (!told) continue;
    if (e.type.empty()) e.type = "message";
    if (!onEvent(e)) {
      pending_.erase(0, at);
      return false;
    }
  }
  pending_.erase(0, at);
  if (pending_.size() + event_.data.size() > kMaxFrame) {
    pending_.clear();
    event_ = SseEvent{};
    hasData_ = false;
    return false;
  }
  return true;
}

void SseParser::take(std::string_view line) {
  if (line[0] == ':') return;  // a comment (keep-alives)
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
  if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  if (field == "id") {
    if (value.find('\0') != std::string_view::npos) return;  // ignored, as browsers do
    event_.id = value;
    lastId_ = value;
  } else if (field == "event") {
    event_.type = value;
  } else if (field == "data") {
    if (hasData_) event_.data += '\n';
    event_.data += value;
    hasData_ = true;
  }
}

}  // namespace boucle
