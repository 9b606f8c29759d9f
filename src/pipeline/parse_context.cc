#include "pipeline/parse_context.h"

#include <charconv>
#include <set>

#include "core/cron.h"
#include "core/glob.h"
#include "core/suggest.h"

namespace boucle::pipeline::detail {

namespace {

// Built with append(): GCC 12 warns falsely (-Wrestrict, bug 105329) on "'" + std::string(s).
std::string inQuotes(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.append(1, '\'').append(s).append(1, '\'');
  return out;
}

std::string typeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "the value " + inQuotes(n.Scalar());
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "an undefined value";
  }
}

std::string joinWords(const std::vector<std::string_view>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i) out += i + 1 == words.size() ? " or " : ", ";
    out += std::string(words[i]);
  }
  return out;
}

}  // namespace

SourcePos posOf(const YAML::Node& node, SourcePos fallback) {
  if (!node.IsDefined()) return fallback;
  auto m = node.Mark();
  if (m.line < 0 || m.column < 0) return fallback;
  return {m.line + 1, m.column + 1};
}

std::vector<Field> mapEntries(const YAML::Node& node, SourcePos pos, std::string_view what,
                              Diagnostics& diags) {
  std::vector<Field> out;
  if (!node.IsMap()) {
    if (!node.IsNull()) {
      diags.error(posOf(node, pos),
                  std::string(what) + ": expected a mapping, found " + typeName(node));
    }
    return out;
  }
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    SourcePos kp = posOf(it->first, pos);
    if (!it->first.IsScalar()) {
      diags.error(kp, std::string(what) + ": keys must be plain names");
      continue;
    }
    std::string key = it->first.Scalar();
    if (!seen.insert(key).second) {
      diags.error(kp, std::string(what) + ": duplicate key " + inQuotes(key));
      continue;
    }
    out.push_back({it->second, posOf(it->second, kp), key, kp, true});
    // An empty value ("key:") has no useful mark of its own; point at the key.
    if (it->second.IsNull()) out.back().pos = kp;
  }
  return out;
}

MapReader::MapReader(const YAML::Node& node, SourcePos pos, std::string_view what,
                     std::vector<std::string_view> allowed, Diagnostics& diags) {
  isMap_ = node.IsMap();
  fields_ = mapEntries(node, pos, what, diags);
  std::vector<Field> kept;
  for (auto& f : fields_) {
    bool known = false;
    for (auto a : allowed) known = known || a == f.key;
    if (known) {
      kept.push_back(f);
      continue;
    }
    SourcePos kp = f.keyPos;
    std::string msg = std::string(what) + ": unknown key " + inQuotes(f.key);
    if (auto s = closestMatch(f.key, allowed)) {
      msg += " (did you mean " + inQuotes(*s) + "?)";
    } else {
      msg += " (expected one of: " + joinWords(allowed) + ")";
    }
    diags.error(kp, msg);
  }
  fields_ = std::move(kept);
}

Field MapReader::get(std::string_view key) const {
  for (auto& f : fields_) {
    if (f.key == key) return f;
  }
  return {};
}

std::optional<std::string> readString(const Field& f, Diagnostics& d) {
  if (!f.node.IsScalar()) {
    d.error(f.pos, f.key + ": expected a string, found " + typeName(f.node));
    return std::nullopt;
  }
  return f.node.Scalar();
}

std::optional<bool> readBool(const Field& f, Diagnostics& d) {
  if (f.node.IsScalar()) {
    const std::string& s = f.node.Scalar();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  d.error(f.pos, f.key + ": expected true or false, found " + typeName(f.node));
  return std::nullopt;
}

std::optional<int> readInt(const Field& f, int min, int max, Diagnostics& d) {
  if (f.node.IsScalar()) {
    const std::string& s = f.node.Scalar();
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) {
      if (v >= min && v <= max) return v;
      d.error(f.pos, f.key + ": " + s + " is out of range (" + std::to_string(min) + " to " +
                         std::to_string(max) + ")");
      return std::nullopt;
    }
  }
  d.error(f.pos, f.key + ": expected a whole number, found " + typeName(f.node));
  return std::nullopt;
}

std::optional<Millis> readDuration(const Field& f, Diagnostics& d) {
  if (f.node.IsScalar()) {
    if (auto v = parseDuration(f.node.Scalar())) {
      if (v->count() > 0) return v;
      d.error(f.pos, f.key + ": duration must be greater than zero");
      return std::nullopt;
    }
  }
  d.error(f.pos, f.key + ": expected a duration such as 500ms, 30s, 10m, 1h30m or 2d, found " +
                     typeName(f.node));
  return std::nullopt;
}

std::optional<double> readPercent(const Field& f, Diagnostics& d) {
  if (f.node.IsScalar()) {
    std::string s = f.node.Scalar();
    if (!s.empty() && s.back() == '%') s.pop_back();
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) {
      if (v > 0 && v <= 100) return v;
    }
  }
  d.error(f.pos, f.key + ": expected a percentage above 0 and at most 100 such as 99.9%, found " +
                     typeName(f.node));
  return std::nullopt;
}

std::optional<double> readNumber(const Field& f, Diagnostics& d) {
  if (f.node.IsScalar()) {
    const std::string& s = f.node.Scalar();
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) return v;
  }
  d.error(f.pos, f.key + ": expected a number such as 0.01 or 250, found " + typeName(f.node));
  return std::nullopt;
}

std::optional<std::vector<std::string>> readStringList(const Field& f, Diagnostics& d,
                                                       std::vector<SourcePos>* positions) {
  std::vector<std::string> out;
  if (f.node.IsScalar()) {
    out.push_back(f.node.Scalar());
    if (positions) positions->push_back(f.pos);
    return out;
  }
  if (!f.node.IsSequence()) {
    d.error(f.pos, f.key + ": expected a list of strings, found " + typeName(f.node));
    return std::nullopt;
  }
  bool ok = true;
  for (const auto& item : f.node) {
    SourcePos ip = posOf(item, f.pos);
    if (!item.IsScalar()) {
      d.error(ip, f.key + ": list items must be strings, found " + typeName(item));
      ok = false;
      continue;
    }
    out.push_back(item.Scalar());
    if (positions) positions->push_back(ip);
  }
  if (!ok) return std::nullopt;
  return out;
}

std::vector<std::string> readGlobs(const Field& f, Diagnostics& d) {
  std::vector<SourcePos> pos;
  auto list = readStringList(f, d, &pos);
  if (!list) return {};
  std::vector<std::string> out;
  for (size_t i = 0; i < list->size(); ++i) {
    if (auto st = validateGlob((*list)[i]); !st.ok()) {
      d.error(pos[i], f.key + ": bad pattern '" + (*list)[i] + "': " + st.message());
      continue;
    }
    out.push_back((*list)[i]);
  }
  return out;
}

void checkTemplate(const Field& f, std::string_view text, Diagnostics& d) {
  static const std::vector<std::string_view> kRoots = {"env", "release", "project", "commit",
                                                       "host"};
  size_t i = 0;
  while ((i = text.find("{{", i)) != std::string_view::npos) {
    size_t end = text.find("}}", i + 2);
    if (end == std::string_view::npos) {
      d.error(f.pos, f.key + ": '{{' is not closed by '}}' in '" + std::string(text) + "'");
      return;
    }
    std::string_view expr = text.substr(i + 2, end - i - 2);
    while (!expr.empty() && expr.front() == ' ') expr.remove_prefix(1);
    while (!expr.empty() && expr.back() == ' ') expr.remove_suffix(1);
    std::string_view root = expr.substr(0, expr.find('.'));
    bool known = false;
    for (auto r : kRoots) known = known || r == root;
    if (!known || expr.find('.') == std::string_view::npos || expr.back() == '.') {
      std::string msg = f.key + ": unknown template value '{{ " + std::string(expr) +
                        " }}' (use env.KEY, release.version, release.dir, project.name, "
                        "commit.sha or host.name)";
      if (!known) {
        if (auto s = closestMatch(root, kRoots)) msg += "; did you mean '" + *s + "'?";
      }
      d.error(f.pos, msg);
    }
    i = end + 2;
  }
}

std::optional<std::string> readKeyword(const Field& f, const std::vector<std::string_view>& words,
                                       Diagnostics& d) {
  auto s = readString(f, d);
  if (!s) return std::nullopt;
  for (auto w : words) {
    if (w == *s) return s;
  }
  std::string msg = f.key + ": unknown value " + inQuotes(*s) + ", expected " + joinWords(words);
  if (auto m = closestMatch(*s, words)) msg += " (did you mean " + inQuotes(*m) + "?)";
  d.error(f.pos, msg);
  return std::nullopt;
}

std::vector<std::string> readCrons(const Field& f, std::string_view section, Diagnostics& d) {
  std::vector<std::string> out;
  std::vector<SourcePos> pos;
  if (auto crons = readStringList(f, d, &pos)) {
    for (size_t i = 0; i < crons->size(); ++i) {
      std::string err;
      if (Cron::parse((*crons)[i], &err)) {
        out.push_back((*crons)[i]);
      } else {
        d.error(pos[i], std::string(section) + ": '" + (*crons)[i] + "': " + err);
      }
    }
  }
  return out;
}

}  // namespace boucle::pipeline::detail
