#pragma once
// Answers derived from the store, kept while the store's revision stays the same: the badge,
// the runs list and token checks are asked for far more often than anything changes (README
// badges, dashboards polling), and a hit costs a map lookup instead of queries and JSON.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "api/http.h"
#include "store/store.h"

namespace boucle::api {

template <typename Value>
class RevisionCache {
 public:
  std::optional<Value> get(const std::string& key, uint64_t revision) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.revision != revision) return std::nullopt;
    return it->second.value;
  }
  void put(const std::string& key, uint64_t revision, Value value) {
    std::lock_guard lock(mu_);
    if (entries_.size() >= kMaxEntries) entries_.clear();  // bounded; refilled on demand
    entries_[key] = {revision, std::move(value)};
  }

 private:
  static constexpr size_t kMaxEntries = 4096;
  struct Entry {
    uint64_t revision;
    Value value;
  };
  std::mutex mu_;  // guards entries_
  std::unordered_map<std::string, Entry> entries_;
};

using ResponseCache = RevisionCache<Response>;

// A cached answer when the store has not changed since it was made, else `make`'s, kept when
// it is a plain success.
template <typename Make>
Response cached(ResponseCache& cache, store::Store& store, const std::string& key, Make make) {
  uint64_t revision = store.revision();
  if (auto hit = cache.get(key, revision)) return *hit;
  Response r = make();
  if (r.status == 200 && !r.stream) cache.put(key, revision, r);
  return r;
}

}  // namespace boucle::api
