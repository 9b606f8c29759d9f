#pragma once
// Splitting one fuzz input into the parts a target needs, deterministically.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace boucle::fuzz {

// Parts separated by "\n--\n" (the corpus files are readable that way).
inline std::vector<std::string> parts(const uint8_t* data, size_t size, size_t max) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> out;
  while (out.size() + 1 < max) {
    auto at = in.find("\n--\n");
    if (at == std::string_view::npos) break;
    out.emplace_back(in.substr(0, at));
    in.remove_prefix(at + 4);
  }
  out.emplace_back(in);
  return out;
}

}  // namespace boucle::fuzz
