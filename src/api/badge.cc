#include "api/badge.h"

#include <fmt/core.h>

namespace boucle::api {

namespace {
int textWidth(const std::string& s) {
  return static_cast<int>(s.size()) * 7 + 10;
}

std::string escapeXml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}
}  // namespace

std::string badgeSvg(const std::string& label, const std::string& state) {
  const char* color = state == "passing" ? "#4c1" : state == "failing" ? "#e05d44" : "#9f9f9f";
  int lw = textWidth(label), sw = textWidth(state), w = lw + sw;
  std::string l = escapeXml(label), s = escapeXml(state);
  return fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{l}: {s}">)"
      R"(<title>{l}: {s}</title><rect width="{lw}" height="20" fill="#555"/>)"
      R"(<rect x="{lw}" width="{sw}" height="20" fill="{c}"/>)"
      R"(<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">)"
      R"(<text x="{lx}" y="14">{l}</text><text x="{sx}" y="14">{s}</text></g></svg>)",
      fmt::arg("w", w), fmt::arg("lw", lw), fmt::arg("sw", sw), fmt::arg("c", color),
      fmt::arg("l", l), fmt::arg("s", s), fmt::arg("lx", lw / 2), fmt::arg("sx", lw + sw / 2));
}

}  // namespace boucle::api
