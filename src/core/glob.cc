#include "core/glob.h"

#include <fnmatch.h>

#include <algorithm>
#include <system_error>

namespace boucle {
namespace fs = std::filesystem;

namespace {

std::vector<std::string_view> splitPath(std::string_view p) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= p.size()) {
    size_t slash = p.find('/', start);
    if (slash == std::string_view::npos) slash = p.size();
    if (slash > start) out.push_back(p.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool hasMagic(std::string_view seg) {
  return seg.find_first_of("*?[") != std::string_view::npos;
}

bool matchSegments(const std::vector<std::string_view>& pat, size_t pi,
                   const std::vector<std::string_view>& path, size_t si) {
  while (pi < pat.size()) {
    if (pat[pi] == "**") {
      // "**" swallows zero or more whole segments; try every split point.
      for (size_t k = si; k <= path.size(); ++k) {
        if (matchSegments(pat, pi + 1, path, k)) return true;
      }
      return false;
    }
    if (si >= path.size()) return false;
    std::string p(pat[pi]), s(path[si]);
    if (fnmatch(p.c_str(), s.c_str(), 0) != 0) return false;
    ++pi;
    ++si;
  }
  return si == path.size();
}

bool isInside(const fs::path& root, const fs::path& p) {
  auto r = root.lexically_normal().string();
  auto q = p.lexically_normal().string();
  if (!r.empty() && r.back() == '/') r.pop_back();
  return q == r || (q.size() > r.size() && q.compare(0, r.size(), r) == 0 && q[r.size()] == '/');
}

}  // namespace

Status validateGlob(std::string_view pattern) {
  if (pattern.empty()) return Status::Invalid("empty pattern");
  if (pattern.front() == '/') return Status::Invalid("pattern must be relative to the workspace");
  for (auto seg : splitPath(pattern)) {
    if (seg == "..") return Status::Invalid("'..' would leave the workspace");
    if (seg.find("**") != std::string_view::npos && seg != "**") {
      return Status::Invalid("'**' must be a whole path segment, as in 'dir/**/file'");
    }
  }
  int depth = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;
    } else if (pattern[i] == '[' && depth == 0) {
      depth = 1;
      // A ']' right after '[' or '[!' is a literal member of the set.
      if (i + 1 < pattern.size() && (pattern[i + 1] == '!' || pattern[i + 1] == '^')) ++i;
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') ++i;
    } else if (pattern[i] == ']' && depth == 1) {
      depth = 0;
    } else if (pattern[i] == '/' && depth == 1) {
      return Status::Invalid("'[' is not closed before '/'");
    }
  }
  if (depth != 0) return Status::Invalid("'[' is not closed");
  return Status::Ok();
}

bool branchMatches(std::string_view glob, std::string_view branch) {
  return !branch.empty() && globMatches(glob, branch);
}

bool globMatches(std::string_view pattern, std::string_view relPath) {
  return matchSegments(splitPath(pattern), 0, splitPath(relPath), 0);
}

Result<std::vector<std::string>> expandGlob(const fs::path& root, std::string_view pattern) {
  if (auto st = validateGlob(pattern); !st.ok()) return st;
  std::error_code ec;
  fs::path realRoot = fs::canonical(root, ec);
  if (ec) return errnoStatus("workspace " + root.string(), ec.value());

  // Start the walk at the longest literal prefix so "dist/*.tar.gz" never scans the whole tree.
  auto segs = splitPath(pattern);
  fs::path start = realRoot;
  size_t literal = 0;
  while (literal + 1 < segs.size() && !hasMagic(segs[literal]) && segs[literal] != "**") {
    start /= std::string(segs[literal]);
    ++literal;
  }
  bool recursive = std::find(segs.begin(), segs.end(), "**") != segs.end();
  size_t maxDepth = segs.size() - literal;  // levels below `start` a match can be at

  std::vector<std::string> out;
  auto consider = [&](const fs::path& p) -> Status {
    std::string rel = p.lexically_relative(realRoot).generic_string();
    if (!globMatches(pattern, rel)) return Status::Ok();
    fs::path target = fs::canonical(p, ec);
    if (ec) return Status::Ok();  // dangling symlink: not a file to collect
    if (!isInside(realRoot, target)) {
      return Status::Invalid(rel + " points outside the workspace (" + target.string() + ")");
    }
    if (fs::is_regular_file(target, ec)) out.push_back(rel);
    return Status::Ok();
  };

  if (!fs::is_directory(fs::symlink_status(start, ec))) return out;  // nothing there to match
  auto opts = fs::directory_options::skip_permission_denied;
  for (fs::recursive_directory_iterator it(start, opts, ec), end; it != end; it.increment(ec)) {
    if (ec) return errnoStatus("reading " + it->path().string(), ec.value());
    if (!recursive && static_cast<size_t>(it.depth()) + 1 >= maxDepth) {
      it.disable_recursion_pending();
    }
    auto st = it->symlink_status(ec);
    if (fs::is_directory(st)) continue;
    if (auto s = consider(it->path()); !s.ok()) return s;
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace boucle
