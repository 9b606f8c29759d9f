#include "runner/masker.h"

#include <algorithm>
#include <array>
#include <deque>
#include <set>

namespace boucle::runner {

namespace {

// Shortest line of a multi-line secret that is masked on its own (the whole secret is always
// masked, whatever its length).
constexpr size_t kMinLineLength = 6;

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view in, bool pad) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out += kB64[(v >> (6 * k)) & 63];
  }
  size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (rest == 2) v |= uint8_t(in[i + 1]) << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    if (rest == 2) out += kB64[(v >> 6) & 63];
    if (pad) out += rest == 2 ? "=" : "==";
  }
  return out;
}

std::string urlSafe(std::string s) {
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

// The base64 characters that depend only on the secret's bytes when it starts `shift` bytes
// into a longer encoded message: characters covering bits of a neighbour vary, so drop them.
std::string base64Core(std::string_view secret, int shift) {
  std::string padded(shift, '\0');
  padded += secret;
  std::string enc = base64(padded, false);
  size_t first = (8 * shift + 5) / 6;
  size_t last = (8 * (shift + secret.size())) / 6;  // one past the last whole character
  if (last <= first || last > enc.size()) return {};
  return enc.substr(first, last - first);
}

std::string urlEncode(std::string_view s, bool upper, bool plusForSpace) {
  const char* hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ' && plusForSpace) {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string jsonEscape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          const char* hex = "0123456789abcdef";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> maskPatterns(const std::vector<std::string>& secrets) {
  std::set<std::string> out;
  auto add = [&](std::string s) {
    if (!s.empty()) out.insert(std::move(s));
  };
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    add(secret);
    // Each line of a multi-line secret (a PEM key, JSON credentials) on its own: tools print
    // them line by line, often re-indented, so \r and surrounding blanks are dropped.
    if (secret.find('\n') != std::string::npos) {
      size_t start = 0;
      while (start < secret.size()) {
        size_t nl = std::min(secret.find('\n', start), secret.size());
        std::string_view line(secret.data() + start, nl - start);
        size_t first = line.find_first_not_of(" \t\r");
        size_t last = line.find_last_not_of(" \t\r");
        if (first == std::string_view::npos) {
          start = nl + 1;
          continue;
        }
        line = line.substr(first, last - first + 1);
        // Armour lines ("-----BEGIN PRIVATE KEY-----") and tiny lines ("{", "}," of JSON
        // credentials) carry no secret and would blank the same text everywhere in the log.
        bool armour = line.rfind("-----BEGIN ", 0) == 0 || line.rfind("-----END ", 0) == 0;
        if (!armour && line.size() >= kMinLineLength) add(std::string(line));
        start = nl + 1;
      }
    }
    add(base64(secret, true));
    add(urlSafe(base64(secret, true)));
    for (int shift = 0; shift < 3; ++shift) {
      std::string core = base64Core(secret, shift);
      // Very short cores would mask ordinary text; the padded full form above still covers
      // a short secret encoded on its own.
      if (core.size() >= 6) {
        add(core);
        add(urlSafe(core));
      }
    }
    add(urlEncode(secret, true, false));
    add(urlEncode(secret, false, false));
    add(urlEncode(secret, true, true));
    add(jsonEscape(secret));
  }
  return {out.begin(), out.end()};
}

Masker::Masker(const std::vector<std::string>& secrets) {
  build(maskPatterns(secrets));
}

void Masker::build(const std::vector<std::string>& patterns) {
  // Trie first (0 = root, -1 = no edge), then breadth-first failure links folded into a full
  // transition table, so feeding is one table look-up per byte.
  for (const auto& p : patterns) {
    for (unsigned char c : p) {
      if (classOf_[c] == 0) classOf_[c] = static_cast<uint8_t>(classes_++);
      if (classes_ == 256) break;  // every byte used: class 0 stays empty, still correct
    }
  }
  const uint32_t k = classes_;
  std::vector<std::array<int32_t, 256>> trie(1);
  trie[0].fill(-1);
  depth_.assign(1, 0);
  matchLen_.assign(1, 0);
  for (const auto& p : patterns) {
    maxLen_ = std::max(maxLen_, p.size());
    int32_t s = 0;
    for (unsigned char b : p) {
      uint8_t c = classOf_[b];
      if (trie[s][c] < 0) {
        trie[s][c] = static_cast<int32_t>(trie.size());
        trie.emplace_back();
        trie.back().fill(-1);
        depth_.push_back(depth_[s] + 1);
        matchLen_.push_back(0);
      }
      s = trie[s][c];
    }
    matchLen_[s] = std::max<uint32_t>(matchLen_[s], static_cast<uint32_t>(p.size()));
  }
  size_t n = trie.size();
  next_.assign(n * k, 0);
  std::vector<int32_t> fail(n, 0);
  std::deque<int32_t> queue;
  for (uint32_t c = 0; c < k; ++c) {
    int32_t t = trie[0][c];
    next_[c] = t < 0 ? 0 : t;
    if (t > 0) queue.push_back(t);
  }
  while (!queue.empty()) {
    int32_t s = queue.front();
    queue.pop_front();
    matchLen_[s] = std::max(matchLen_[s], matchLen_[fail[s]]);
    for (uint32_t c = 0; c < k; ++c) {
      int32_t t = trie[s][c];
      if (t < 0) {
        next_[s * k + c] = next_[fail[s] * k + c];
      } else {
        fail[t] = next_[fail[s] * k + c];
        next_[s * k + c] = t;
        queue.push_back(t);
      }
    }
  }
}

void Masker::feed(std::string_view data, std::string& out) {
  if (maxLen_ == 0) {
    out.append(data);
    return;
  }
  pending_.append(data);
  // Locals in the hot loop: the compiler cannot keep members in registers across the
  // push_back calls.
  const int32_t* next = next_.data();
  const uint32_t* matchLen = matchLen_.data();
  const uint8_t* classOf = classOf_;
  const uint32_t k = classes_;
  int32_t state = state_;
  uint64_t pos = pos_;
  for (unsigned char c : data) {
    state = next[static_cast<uint32_t>(state) * k + classOf[c]];
    ++pos;
    if (uint32_t len = matchLen[state]) [[unlikely]] {
      Span s{pos - len, pos};
      if (!spans_.empty() && s.begin <= spans_.back().end) {
        spans_.back().begin = std::min(spans_.back().begin, s.begin);
        spans_.back().end = std::max(spans_.back().end, s.end);
      } else {
        spans_.push_back(s);
      }
    }
  }
  state_ = state;
  pos_ = pos;
  // Bytes before the current partial match can never become part of a secret any more.
  emitUpTo(pos_ - depth_[state_], out);
}

void Masker::finish(std::string& out) {
  if (maxLen_ == 0) return;
  emitUpTo(pos_, out);
  state_ = 0;
}

void Masker::emitUpTo(uint64_t end, std::string& out) {
  // A masked span that reaches past `end` may still grow (overlapping secrets): wait for it.
  if (!spans_.empty() && spans_.back().end > end) end = std::min(end, spans_.back().begin);
  uint64_t at = pendingBase_;
  size_t si = 0;
  while (at < end) {
    if (si < spans_.size() && spans_[si].begin <= at) {
      out.append(kMask);
      at = spans_[si].end;
      ++si;
      continue;
    }
    uint64_t stop = si < spans_.size() ? std::min(end, spans_[si].begin) : end;
    out.append(pending_, at - pendingBase_, stop - at);
    at = stop;
  }
  spans_.erase(spans_.begin(), spans_.begin() + si);
  pending_.erase(0, at - pendingBase_);
  pendingBase_ = at;
}

}  // namespace boucle::runner
