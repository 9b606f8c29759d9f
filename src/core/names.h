#pragma once
// Names that become files, folders or URL segments (projects, jobs, environments, their
// values, roles, tokens' roles): letters, digits, '-', '_' and '.', 1 to 100 characters, not
// "." or "..". One rule, used by the parser, the API and auth alike.

#include <string>
#include <string_view>
#include <vector>

namespace boucle {

bool validName(std::string_view n);

// An environment variable's name as POSIX shells take it: letters, digits and '_', not starting
// with a digit, 1 to 100 characters (a job's build secrets become its variables).
bool validEnvVariable(std::string_view n);

// A list of names kept as one text ("linux,arm64"), as the store keeps labels and pins: empty
// pieces are dropped.
std::vector<std::string> splitNames(std::string_view text);
std::string joinNames(const std::vector<std::string>& names);

}  // namespace boucle
