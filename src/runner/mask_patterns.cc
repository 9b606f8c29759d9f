// The forms a secret takes when tools print it: every one of them is a pattern the masker
// looks for (masker.h).
#include <optional>
#include <set>

#include "runner/masker.h"

namespace boucle::runner {

namespace {

// Shortest line of a multi-line secret that is masked on its own (the whole secret is always
// masked, whatever its length).
constexpr size_t kMinLineLength = 6;
// Shortest hex form masked: two hex digits would blank ordinary numbers everywhere.
constexpr size_t kMinHexLength = 8;

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

std::string hex(std::string_view s, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Percent-encoding: `safe` characters (beyond letters and digits) stay as they are.
std::string percentEncode(std::string_view s, std::string_view safe, bool upper,
                          bool plusForSpace) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || safe.find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else if (c == ' ' && plusForSpace) {
      out += '+';
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

// The code points of valid UTF-8, or nothing.
std::optional<std::vector<uint32_t>> codePoints(std::string_view s) {
  std::vector<uint32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t extra = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : 3;
    if ((c >= 0x80 && c < 0xc0) || c >= 0xf8 || i + extra >= s.size() + (extra == 0 ? 1 : 0)) {
      return std::nullopt;
    }
    uint32_t cp = extra == 0 ? c : c & (0x3f >> extra);
    for (size_t k = 1; k <= extra; ++k) {
      if ((uint8_t(s[i + k]) >> 6) != 2) return std::nullopt;
      cp = (cp << 6) | (uint8_t(s[i + k]) & 0x3f);
    }
    out.push_back(cp);
    i += extra + 1;
  }
  return out;
}

struct JsonStyle {
  bool upperHex, escapeSlash, asciiOnly;
};

// A JSON string's content as a serializer writes it: short escapes for " \ \n \r \t (and \b
// \f), \u00XX for other control characters, optionally \/ and \uXXXX for everything beyond
// ASCII (Python's json.dumps default), surrogate pairs above U+FFFF.
std::string jsonEscape(std::string_view s, JsonStyle st) {
  const char* digits = st.upperHex ? "0123456789ABCDEF" : "0123456789abcdef";
  auto u = [&](std::string& out, uint32_t v) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += digits[(v >> shift) & 15];
  };
  std::vector<uint32_t> cps;
  if (st.asciiOnly) {
    auto decoded = codePoints(s);
    if (!decoded) return {};
    cps = std::move(*decoded);
  } else {
    for (unsigned char c : s) cps.push_back(c);
  }
  std::string out;
  for (uint32_t c : cps) {
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '/' && st.escapeSlash) {
      out += "\\/";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\b') {
      out += "\\b";
    } else if (c == '\f') {
      out += "\\f";
    } else if (c < 0x20 || (st.asciiOnly && c >= 0x7f)) {
      if (c > 0xffff) {
        uint32_t v = c - 0x10000;
        u(out, 0xd800 + (v >> 10));
        u(out, 0xdc00 + (v & 0x3ff));
      } else {
        u(out, c);
      }
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void addLines(const std::string& secret, std::set<std::string>& out) {
  // Each line of a multi-line secret (a PEM key, JSON credentials) on its own: tools print
  // them line by line, often re-indented, so \r and surrounding blanks are dropped.
  size_t start = 0;
  while (start < secret.size()) {
    size_t nl = std::min(secret.find('\n', start), secret.size());
    std::string_view line(secret.data() + start, nl - start);
    size_t first = line.find_first_not_of(" \t\r");
    size_t last = line.find_last_not_of(" \t\r");
    start = nl + 1;
    if (first == std::string_view::npos) continue;
    line = line.substr(first, last - first + 1);
    // Armour lines ("-----BEGIN PRIVATE KEY-----") and tiny lines ("{", "}," of JSON
    // credentials) carry no secret and would blank the same text everywhere in the log.
    bool armour = line.rfind("-----BEGIN ", 0) == 0 || line.rfind("-----END ", 0) == 0;
    if (!armour && line.size() >= kMinLineLength) out.insert(std::string(line));
  }
}

}  // namespace

MaskPatterns maskPatterns(const std::vector<std::string>& secrets) {
  std::set<std::string> exact, unwrapped;
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    exact.insert(secret);
    if (secret.find('\n') != std::string::npos) addLines(secret, exact);
    // RFC 3986; Python's quote (keeps '/'); JavaScript's encodeURIComponent and encodeURI.
    // Text only: binary secrets (keystores) reach logs as base64 or hex, and each variant of a
    // 16 KB value is one more long pattern to keep.
    bool text = codePoints(secret).has_value();
    std::vector<std::string_view> safeSets{"-_.~"};
    if (text) safeSets = {"-_.~", "-_.~/", "-_.!~*'()", "-_.!~*'();,/?:@&=+$#"};
    for (std::string_view safe : safeSets) {
      for (bool upper : {true, false}) {
        exact.insert(percentEncode(secret, safe, upper, false));
        if (safe.find('+') == std::string_view::npos)
          exact.insert(percentEncode(secret, safe, upper, true));
      }
    }
    for (bool upperHex : {false, true}) {
      for (bool slash : {false, true}) {
        for (bool ascii : {false, true}) {
          if (text || (!slash && !ascii))
            exact.insert(jsonEscape(secret, {upperHex, slash, ascii}));
        }
      }
    }
    // Encodings tools wrap into lines (base64 at 76 columns, PEM at 64, xxd -p at 60): matched
    // with line breaks ignored, which also finds them unwrapped.
    unwrapped.insert(base64(secret, true));
    unwrapped.insert(urlSafe(base64(secret, true)));
    for (int shift = 0; shift < 3; ++shift) {
      std::string core = base64Core(secret, shift);
      // Very short cores would mask ordinary text; the padded full form above still covers
      // a short secret encoded on its own.
      if (core.size() >= 6) {
        unwrapped.insert(core);
        unwrapped.insert(urlSafe(core));
      }
    }
    for (bool upper : {false, true}) {
      std::string h = hex(secret, upper);
      if (h.size() >= kMinHexLength) unwrapped.insert(h);
    }
  }
  exact.erase("");
  unwrapped.erase("");
  return {{exact.begin(), exact.end()}, {unwrapped.begin(), unwrapped.end()}};
}

}  // namespace boucle::runner
