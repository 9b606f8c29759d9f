#include "core/names.h"

namespace boucle {

bool validName(std::string_view n) {
  if (n.empty() || n.size() > 100 || n == "." || n == "..") return false;
  for (char c : n) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace boucle
