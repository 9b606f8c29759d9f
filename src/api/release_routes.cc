// Releases: made from a passing run, listed, shown with their notes, artifacts downloaded.
#include <sys/stat.h>

#include "api/log_stream.h"
#include "api/route_helpers.h"
#include "core/encoding.h"
#include "core/log.h"
#include "vault/blob_store.h"
#include "vault/releaser.h"

namespace boucle::api {

using nlohmann::json;

namespace {

json releaseJson(const store::Release& r, bool full) {
  json j = {
      {"project", r.project},
      {"version", r.version},
      {"run", r.runId},
      {"commit", r.commit},
      {"previous_version", r.previousVersion.empty() ? json(nullptr) : json(r.previousVersion)},
      {"created_by", r.createdBy},
      {"created_at_ms", r.createdAt},
      {"branch", r.branch},
      {"prerelease", r.prerelease},
      {"artifacts", json::parse(r.artifactsJson, nullptr, false)}};
  if (full) {
    j["notes"] = r.notes;
    j["changes"] = json::parse(r.changesJson, nullptr, false);
  }
  return j;
}

// A Range header, as RFC 9110 says: one "bytes=A-B", "bytes=A-" or "bytes=-N" range is
// served (206); another unit, several ranges or a malformed one are ignored (the whole body,
// 200); a range that starts past the end is unsatisfiable (416).
enum class RangeAnswer { kWhole, kPart, kUnsatisfiable };
RangeAnswer parseRange(const std::string& header, uint64_t size, uint64_t* from, uint64_t* to) {
  const std::string unit = "bytes=";
  if (header.compare(0, unit.size(), unit) != 0 || header.find(',') != std::string::npos) {
    return RangeAnswer::kWhole;
  }
  std::string spec = header.substr(unit.size());
  auto dash = spec.find('-');
  if (dash == std::string::npos) return RangeAnswer::kWhole;
  std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  auto number = [](const std::string& t, uint64_t* v) {
    if (t.empty() || t.size() > 19 || t.find_first_not_of("0123456789") != std::string::npos)
      return false;
    *v = std::stoull(t);
    return true;
  };
  if (a.empty()) {  // the last N bytes
    uint64_t n = 0;
    if (!number(b, &n)) return RangeAnswer::kWhole;
    if (n == 0 || size == 0) return RangeAnswer::kUnsatisfiable;
    *from = n >= size ? 0 : size - n;
    *to = size - 1;
    return RangeAnswer::kPart;
  }
  if (!number(a, from)) return RangeAnswer::kWhole;
  if (b.empty()) {
    *to = size ? size - 1 : 0;
  } else if (!number(b, to) || *to < *from) {
    return RangeAnswer::kWhole;
  }
  if (*from >= size) return RangeAnswer::kUnsatisfiable;
  *to = std::min(*to, size - 1);
  return RangeAnswer::kPart;
}

Response download(const ApiContext& c, const Request& req, const store::Release& rel,
                  const std::string& name) {
  json artifacts = json::parse(rel.artifactsJson, nullptr, false);
  const json* found = nullptr;
  int matches = 0;
  std::string job = req.query.count("job") ? req.query.at("job") : "";
  for (const auto& a : artifacts) {
    if (a.value("name", "") == name && (job.empty() || a.value("job", "") == job)) {
      found = &a;
      ++matches;
    }
  }
  if (!found) return errorResponse(404, rel.version + " has no artifact " + name);
  if (matches > 1) return errorResponse(409, "several jobs made " + name + ": add ?job=NAME");
  std::string sha = found->value("sha256", "");
  vault::BlobStore blobs(c.shared() / "blobs");
  if (!vault::isSha256Hex(sha) || !blobs.contains(sha)) {
    return errorResponse(500, "the artifact's content is missing from the store");
  }
  if (auto st = blobs.checkIntact(sha); !st.ok()) {
    logError(st.message());
    return errorResponse(500, "the artifact's content is damaged on the server (boucle fsck)");
  }
  struct stat st {};
  if (::stat(blobs.pathOf(sha).c_str(), &st) != 0) return errorResponse(500, "internal error");
  uint64_t size = static_cast<uint64_t>(st.st_size);

  Response res;
  res.contentType = "application/octet-stream";
  res.headers.emplace_back("ETag", "\"" + sha + "\"");
  // RFC 9530: the representation's digest, base64 of the raw SHA-256.
  res.headers.emplace_back("Repr-Digest", "sha-256=:" + base64Of(*bytesOfHex(sha)) + ":");
  res.headers.emplace_back("Accept-Ranges", "bytes");
  // The name comes from a file a job made: nothing in it may break the header (CR, LF, quotes).
  std::string base = name.substr(name.rfind('/') + 1);
  for (char& ch : base) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f || ch == '"' || ch == '\\') ch = '_';
  }
  res.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + base + "\"");
  if (req.header("if-none-match") == "\"" + sha + "\"") {
    res.status = 304;
    return res;
  }
  std::string range = req.header("range");
  std::string ifRange = req.header("if-range");
  if (!range.empty() && (ifRange.empty() || ifRange == "\"" + sha + "\"")) {
    uint64_t from = 0, to = 0;
    auto answer = parseRange(range, size, &from, &to);
    if (answer == RangeAnswer::kUnsatisfiable) {
      Response bad =
          errorResponse(416, "range not satisfiable (size " + std::to_string(size) + ")");
      bad.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
      return bad;
    }
    if (answer == RangeAnswer::kWhole) {
      res.file = FileBody{blobs.pathOf(sha).string(), 0, size};
      return res;
    }
    res.status = 206;
    res.headers.emplace_back("Content-Range", "bytes " + std::to_string(from) + "-" +
                                                  std::to_string(to) + "/" + std::to_string(size));
    res.file = FileBody{blobs.pathOf(sha).string(), from, to - from + 1};
    return res;
  }
  res.file = FileBody{blobs.pathOf(sha).string(), 0, size};
  return res;
}

}  // namespace

void addReleaseRoutes(Router& r, const ApiContext& c) {
  r.add("POST", "/api/projects/{name}/releases", Access::kChange,
        [&c](const Request& req, const Params& p) {
          json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
          if (!body.is_object()) return errorResponse(400, "the body must be a JSON object");
          vault::ReleaseRequest rr;
          rr.project = p.at("name");
          rr.actor = req.actor;
          if (body.contains("run") && !body["run"].is_null()) {
            if (!body["run"].is_number_integer()) return errorResponse(400, "run: a run id");
            rr.fromRun = body["run"].get<int64_t>();
          }
          if (body.contains("version") && !body["version"].is_null()) {
            if (!body["version"].is_string()) return errorResponse(400, "version: a string");
            rr.version = body["version"].get<std::string>();
          }
          auto rel = c.releases->release(rr);
          if (!rel.ok()) return fromStatus(rel.status());
          return ok(201, releaseJson(*rel, true));
        });
  r.add("GET", "/api/projects/{name}/releases", Access::kRead,
        [&c](const Request& req, const Params& p) {
          auto limit = limitOf(req, 50);
          if (!limit) return errorResponse(400, "limit: 1 to 1000");
          if (auto proj = c.store->getProject(p.at("name")); !proj.ok())
            return fromStatus(proj.status());
          auto list = c.store->listReleases(p.at("name"), *limit);
          if (!list.ok()) return fromStatus(list.status());
          json out = json::array();
          for (const auto& rel : *list) out.push_back(releaseJson(rel, false));
          return ok(200, {{"releases", out}});
        });
  r.add("GET", "/api/projects/{name}/releases/{version}", Access::kRead,
        [&c](const Request&, const Params& p) {
          auto rel = c.store->getRelease(p.at("name"), p.at("version"));
          if (!rel.ok()) return fromStatus(rel.status());
          return ok(200, releaseJson(*rel, true));
        });
  r.add("GET", "/api/projects/{name}/releases/{version}/notes.md", Access::kRead,
        [&c](const Request&, const Params& p) {
          auto rel = c.store->getRelease(p.at("name"), p.at("version"));
          if (!rel.ok()) return fromStatus(rel.status());
          Response res;
          res.contentType = "text/markdown; charset=utf-8";
          res.body = rel->notes;
          return res;
        });
  r.add("GET", "/api/projects/{name}/releases/{version}/artifacts/{artifact}", Access::kRead,
        [&c](const Request& req, const Params& p) {
          auto rel = c.store->getRelease(p.at("name"), p.at("version"));
          if (!rel.ok()) return fromStatus(rel.status());
          return download(c, req, *rel, p.at("artifact"));
        });
}

}  // namespace boucle::api
