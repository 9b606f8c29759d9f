#include "deploy/template.h"

#include <kainjow/mustache.hpp>

namespace boucle::deploy {

namespace mustache = kainjow::mustache;

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

Result<std::string> renderTemplate(const std::string& text, const TemplateValues& values,
                                   const std::string& what) {
  // Every variable tag must have a value: mustache itself would render a missing one as "".
  // Only the plain {{ name }} and {{{ name }}} / {{& name }} forms are variables.
  for (size_t at = text.find("{{"); at != std::string::npos; at = text.find("{{", at + 2)) {
    size_t end = text.find("}}", at + 2);
    if (end == std::string::npos) break;  // the parser reports it
    std::string tag = text.substr(at + 2, end - at - 2);
    if (!tag.empty() && tag[0] == '{') tag.erase(0, 1);
    if (!tag.empty() && tag[0] == '&') tag.erase(0, 1);
    tag = trim(tag);
    if (tag.empty() || std::string("#^/!>=").find(tag[0]) != std::string::npos) continue;
    if (!values.count(tag)) {
      return Status::Invalid(what + ": no value for {{ " + tag + " }}");
    }
  }
  // Nested data for the dotted names.
  mustache::data root{mustache::data::type::object};
  std::map<std::string, mustache::data> groups;
  for (const auto& [name, value] : values) {
    auto dot = name.find('.');
    if (dot == std::string::npos) {
      root.set(name, value);
    } else {
      auto [it, added] = groups.try_emplace(name.substr(0, dot), mustache::data::type::object);
      it->second.set(name.substr(dot + 1), value);
    }
  }
  for (const auto& [group, data] : groups) root.set(group, data);
  mustache::mustache tmpl{text};
  if (!tmpl.is_valid()) return Status::Invalid(what + ": " + tmpl.error_message());
  tmpl.set_custom_escape([](const std::string& s) { return s; });
  std::string out = tmpl.render(root);
  if (!tmpl.is_valid()) return Status::Invalid(what + ": " + tmpl.error_message());
  return out;
}

}  // namespace boucle::deploy
