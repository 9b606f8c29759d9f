#pragma once
// Paths inside a folder whose content an untrusted job controls (its workspace): whatever
// symlinks or ".." it holds, nothing opened or made here leads out of it. The kernel resolves
// the path (openat2 with RESOLVE_BENEATH), so there is no window between a check and the open;
// where openat2 is missing (Linux < 5.6) every component is opened with O_NOFOLLOW instead, and
// any symlink is refused.

#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "core/status.h"
#include "os/files.h"

namespace boucle::os {

Result<Fd> openDirectory(const std::filesystem::path& dir);
// `rel` (relative, inside `dirFd`) opened with `flags` (O_CLOEXEC added); EXDEV-like escapes
// and absolute paths are Invalid.
Result<Fd> openBeneath(int dirFd, std::string_view rel, int flags, mode_t mode = 0);
// The folders of `relDir` made as needed (0755) inside `dirFd`; returns the deepest, open.
Result<Fd> makeDirsBeneath(int dirFd, std::string_view relDir);

}  // namespace boucle::os
