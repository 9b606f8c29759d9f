#include "core/suggest.h"

#include <algorithm>

namespace boucle {

// Optimal string alignment distance: a swap of two neighbours ("biuld") counts as one edit,
// the most common typo in names.
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::optional<std::string> closestMatch(std::string_view word,
                                        const std::vector<std::string_view>& candidates) {
  size_t best = std::string_view::npos;
  std::string_view bestWord;
  for (auto c : candidates) {
    size_t d = editDistance(word, c);
    if (d < best) {
      best = d;
      bestWord = c;
    }
  }
  size_t allowed = std::max<size_t>(1, std::max(word.size(), bestWord.size()) / 3);
  if (best == std::string_view::npos || best > allowed) return std::nullopt;
  return std::string(bestWord);
}

}  // namespace boucle
