#pragma once
// Names that become files, folders or URL segments (projects, jobs, environments, their
// values, roles, tokens' roles): letters, digits, '-', '_' and '.', 1 to 100 characters, not
// "." or "..". One rule, used by the parser, the API and auth alike.

#include <string_view>

namespace boucle {

bool validName(std::string_view n);

}  // namespace boucle
