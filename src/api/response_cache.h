#pragma once
// Answers derived from the store, kept while the store's revision stays the same: the badge
// and the runs list are read far more often than runs change (README badges, dashboards
// polling), and a hit costs a map lookup instead of queries and JSON.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "api/http.h"

namespace boucle::api {

class ResponseCache {
 public:
  std::optional<Response> get(const std::string& key, uint64_t revision) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.revision != revision) return std::nullopt;
    return it->second.response;
  }
  void put(const std::string& key, uint64_t revision, const Response& r) {
    if (r.stream || r.status != 200) return;
    std::lock_guard lock(mu_);
    if (entries_.size() >= kMaxEntries) entries_.clear();  // bounded; refilled on demand
    entries_[key] = {revision, r};
  }

 private:
  static constexpr size_t kMaxEntries = 4096;
  struct Entry {
    uint64_t revision;
    Response response;
  };
  std::mutex mu_;  // guards entries_
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace boucle::api
