#include "core/semver.h"

#include <charconv>
#include <tuple>
#include <vector>

namespace boucle {

namespace {

bool isNumber(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::optional<int> number(std::string_view s) {
  if (!isNumber(s) || (s.size() > 1 && s[0] == '0') || s.size() > 9) return std::nullopt;
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::vector<std::string_view> dotted(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

}  // namespace

std::string Version::str() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  if (!pre.empty()) s += "-" + pre;
  return s;
}

std::strong_ordering Version::operator<=>(const Version& o) const {
  if (auto c = std::tie(major, minor, patch) <=> std::tie(o.major, o.minor, o.patch); c != 0) {
    return c;
  }
  if (pre.empty() || o.pre.empty()) return pre.empty() <=> o.pre.empty();
  auto a = dotted(pre), b = dotted(o.pre);
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    bool an = isNumber(a[i]), bn = isNumber(b[i]);
    if (an && bn) {
      if (a[i].size() != b[i].size()) return a[i].size() <=> b[i].size();
      if (auto c = a[i].compare(b[i]); c != 0) return c <=> 0;
    } else if (an != bn) {
      return an ? std::strong_ordering::less : std::strong_ordering::greater;
    } else if (auto c = a[i].compare(b[i]); c != 0) {
      return c <=> 0;
    }
  }
  return a.size() <=> b.size();
}

std::optional<Version> parseVersion(std::string_view text) {
  if (!text.empty() && text[0] == 'v') text.remove_prefix(1);
  std::string_view pre;
  if (auto dash = text.find('-'); dash != std::string_view::npos) {
    pre = text.substr(dash + 1);
    text = text.substr(0, dash);
    if (pre.empty()) return std::nullopt;
    for (auto id : dotted(pre)) {
      if (id.empty()) return std::nullopt;
      for (char c : id) {
        bool ok =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
        if (!ok) return std::nullopt;
      }
      if (isNumber(id) && id.size() > 1 && id[0] == '0') return std::nullopt;
    }
  }
  auto parts = dotted(text);
  if (parts.size() != 3) return std::nullopt;
  auto ma = number(parts[0]), mi = number(parts[1]), pa = number(parts[2]);
  if (!ma || !mi || !pa) return std::nullopt;
  return Version{*ma, *mi, *pa, std::string(pre)};
}

Version bumped(const Version& v, Bump b) {
  Version n{v.major, v.minor, v.patch, ""};
  if (b == Bump::kMajor && v.major == 0) b = Bump::kMinor;
  switch (b) {
    case Bump::kNone:
      return v;
    case Bump::kMajor:
      return {v.major + 1, 0, 0, ""};
    case Bump::kMinor:
      return {v.major, v.minor + 1, 0, ""};
    case Bump::kPatch:
      // The release a pre-release was leading to is the next one.
      if (!v.pre.empty()) return n;
      return {v.major, v.minor, v.patch + 1, ""};
  }
  return n;
}

}  // namespace boucle
