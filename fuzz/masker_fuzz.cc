// The masker's one promise about streams: fed in any pieces, the output equals the whole text
// masked at once. Input: up to three secrets, the text, then bytes that choose the cuts.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_input.h"
#include "runner/masker.h"

using namespace boucle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = fuzz::parts(data, size, 5);
  if (p.size() < 3) return 0;
  std::string cuts = p.back();
  std::string text = p[p.size() - 2];
  std::vector<std::string> secrets(p.begin(), p.end() - 2);
  runner::Masker whole(secrets);
  std::string expected = whole.mask(text);
  runner::Masker streamed = whole.fresh();
  std::string out;
  size_t at = 0, c = 0;
  while (at < text.size()) {
    size_t n = cuts.empty() ? 1 : 1 + static_cast<unsigned char>(cuts[c++ % cuts.size()]) % 64;
    streamed.feed(std::string_view(text).substr(at, n), out);
    at += n;
  }
  streamed.finish(out);
  if (out != expected) __builtin_trap();
  return 0;
}
