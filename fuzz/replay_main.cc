// Replays a fuzz target's corpus without libFuzzer: every file of the folders given, once, in
// the ordinary (g++, or g++ with sanitizers) build. A crash or a broken property fails the
// ctest; `make fuzz` runs the same targets under libFuzzer to find new inputs.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  size_t n = 0;
  auto replay = [&n](const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), {});
    std::fprintf(stderr, "%s\n", file.c_str());  // the last one named is the culprit
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    ++n;
  };
  for (int i = 1; i < argc; ++i) {
    if (std::filesystem::is_regular_file(argv[i])) {
      replay(argv[i]);
      continue;
    }
    std::error_code ec;
    for (const auto& e : std::filesystem::recursive_directory_iterator(argv[i], ec)) {
      if (e.is_regular_file()) replay(e.path());
    }
  }
  std::printf("replayed %zu input(s)\n", n);
  return n > 0 ? 0 : 1;  // an empty corpus proves nothing
}
