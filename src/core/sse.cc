#include "core/sse.h"

namespace boucle {

bool SseParser::feed(std::string_view piece, const std::function<bool(const SseEvent&)>& onEvent) {
  pending_.append(piece);
  size_t start = 0;
  for (;;) {
    size_t end = pending_.find("\n\n", start);
    if (end == std::string::npos) break;
    SseEvent e;
    bool any = false;
    for (size_t at = start; at < end;) {
      size_t nl = pending_.find('\n', at);
      if (nl == std::string::npos || nl > end) nl = end;
      std::string_view line(pending_.data() + at, nl - at);
      at = nl + 1;
      if (line.empty() || line[0] == ':') continue;
      size_t colon = line.find(':');
      std::string_view field = line.substr(0, colon);
      std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
      if (field == "id") {
        e.id = value;
        lastId_ = value;
      } else if (field == "event") {
        e.type = value;
        any = true;
      } else if (field == "data") {
        if (!e.data.empty()) e.data += '\n';
        e.data += value;
        any = true;
      }
    }
    start = end + 2;
    if (!any) continue;
    if (e.type.empty()) e.type = "message";
    if (!onEvent(e)) {
      pending_.erase(0, start);
      return false;
    }
  }
  pending_.erase(0, start);
  constexpr size_t kMaxFrame = 1 << 20;
  if (pending_.size() > kMaxFrame) {
    pending_.clear();
    return false;
  }
  return true;
}

}  // namespace boucle
