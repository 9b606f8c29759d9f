#include "store/sql/packed_results.h"

#include <algorithm>

#include "core/encoding.h"

namespace boucle::store {

namespace {

constexpr char kVersion = 1;
constexpr int64_t kMicrosPerUnit = 100;

void putVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool getVarint(std::string_view in, size_t& at, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (at >= in.size()) return false;
    auto byte = static_cast<unsigned char>(in[at++]);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

}  // namespace

std::string packResults(std::vector<TestResult> results) {
  std::sort(results.begin(), results.end(),
            [](const TestResult& a, const TestResult& b) { return a.test < b.test; });
  std::string bytes(1, kVersion);
  bytes.reserve(results.size() * 3 + 1);
  int64_t previous = 0;
  for (const auto& r : results) {
    putVarint(bytes, static_cast<uint64_t>(r.test - previous));
    previous = r.test;
    uint64_t units =
        static_cast<uint64_t>(std::max<int64_t>(0, r.micros) + kMicrosPerUnit / 2) / kMicrosPerUnit;
    putVarint(bytes, units << 2 | static_cast<uint64_t>(r.outcome & 3));
  }
  return base64Of(bytes);
}

Result<std::vector<TestResult>> unpackResults(std::string_view packed) {
  auto bytes = bytesOfBase64(packed);
  if (!bytes || bytes->empty() || (*bytes)[0] != kVersion)
    return Status::Invalid("packed test results: not a version this boucle reads");
  std::vector<TestResult> out;
  size_t at = 1;
  int64_t test = 0;
  while (at < bytes->size()) {
    uint64_t gap = 0, value = 0;
    if (!getVarint(*bytes, at, gap) || !getVarint(*bytes, at, value))
      return Status::Invalid("packed test results: cut short");
    test += static_cast<int64_t>(gap);
    out.push_back(
        {test, static_cast<int>(value & 3), static_cast<int64_t>(value >> 2) * kMicrosPerUnit});
  }
  return out;
}

}  // namespace boucle::store
