#pragma once
// Templates in the deploy method and its config files: mustache ({{ env.url }},
// {{ release.version }}, {{ release.dir }}), rendered with kainjow/mustache. Nothing is escaped
// (these are config files and commands' arguments, not HTML), and a name without a value is an
// error, reported before anything is touched, never an empty string.

#include <map>
#include <string>

#include "core/status.h"

namespace boucle::deploy {

// Dotted names ("env.url", "release.version") to their values.
using TemplateValues = std::map<std::string, std::string>;

// `what` names the template in errors ("deploy/app.conf.mustache", "smoke check 1").
Result<std::string> renderTemplate(const std::string& text, const TemplateValues& values,
                                   const std::string& what);

}  // namespace boucle::deploy
