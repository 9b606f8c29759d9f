#pragma once
// The git steps every run takes — fetch into the project's mirror, resolve and describe the
// commit, check it out — done in-process with libgit2. Each git process costs 12–16 ms to start
// on our machines and a run used to start six; in-process the same steps take a few ms.
// Repositories on the network still go through the git command (see fetchesInProcess).

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"
#include "scm/git_auth.h"

namespace boucle::scm {

// Where a project's mirror lives under the server's data folder: DATA/repos/PROJECT.git.
inline std::filesystem::path mirrorPath(const std::filesystem::path& dataDir,
                                        const std::string& project) {
  return dataDir / "repos" / (project + ".git");
}

struct CommitInfo {
  std::string sha, author, subject;
};

// Whether fetchInto can reach `url` itself: local paths and file://. Repositories on the network
// go through the git command: ssh stays with OpenSSH (users' keys, agents, ssh config and
// known_hosts work as in a shell), and http(s) gets git's low-speed limit and a deadline,
// which libgit2 1.5 cannot give (a stalled remote would hold a worker and the mirror's lock
// for ever).
bool fetchesInProcess(const std::string& url);

// `git fetch --prune URL` of branches and tags (refs/heads/*, refs/tags/*; other refs such as
// refs/pull/* are not kept) into the bare repository `mirror`, and of `requestRef` when given (a
// pull request's head, kept as kRequestRef for its run to read). A token credential is
// sent as HTTP Basic authentication in a header; error messages never contain it.
Status fetchInto(const std::filesystem::path& mirror, const std::string& url,
                 const GitCredential& credential, const std::string& requestRef = "");

// Whether `commit` (40 hex digits) is the head of `branch` in the repository, or one of its
// ancestors: a run triggered for a branch builds only commits that are really on it.
Result<bool> commitOnBranch(const std::filesystem::path& repo, const std::string& commit,
                            const std::string& branch);

// Whether `commit` (40 hex digits) is `tipRev` (a ref or a commit) or one of its ancestors;
// false when either is not in the repository.
Result<bool> commitReaches(const std::filesystem::path& repo, const std::string& tipRev,
                           const std::string& commit);

// The branches (names, without refs/heads/) whose history holds `commit`.
Result<std::vector<std::string>> branchesContaining(const std::filesystem::path& repo,
                                                    const std::string& commit);

// Whether `commit` is a branch's or a tag's, or in one's history: a commit the mirror holds
// only because a pull request (or a merge boucle made) brought it is on neither.
Result<bool> onABranchOrTag(const std::filesystem::path& repo, const std::string& commit);

// Where a fetch with a request's ref puts that request's head, until its run has read it.
inline constexpr const char* kRequestRef = "refs/boucle/request";

// Removes every ref but branches and tags (a mirror fetched by the git command, or made before
// mirrors were limited to them), and `keepRequest` kRequestRef.
Status keepBranchesAndTags(const std::filesystem::path& mirror, bool keepRequest = false);

// How many packs the repository has. Each in-process fetch adds one and libgit2 never repacks,
// so the agent has git merge them when there are several.
size_t packCount(const std::filesystem::path& repo);

// Resolves `rev` (a branch, tag or commit; only ever a revision, never an option) to a commit.
Result<CommitInfo> describeCommit(const std::filesystem::path& repo, const std::string& rev);

// The content of the file `path` in commit `rev` (a branch, tag or commit), read from the
// object database: no checkout, no git process. NotFound when the commit has no such file.
Result<std::string> fileAtCommit(const std::filesystem::path& repo, const std::string& rev,
                                 const std::string& path);

// A new repository at `dest` that borrows `objectsOf`'s objects (alternates: no copy of the
// history), with `origin` pointing at `originUrl`, and `commit` checked out detached, index
// written, so jobs can use git as in any clone.
Status checkoutDetached(const std::filesystem::path& objectsOf, const std::string& originUrl,
                        const std::string& commit, const std::filesystem::path& dest);

// Merges `theirs` into `ours` (commits) in-process as `git merge` would, and writes the result
// as a commit with both as parents (no ref moved): its id. Conflict, naming the conflicting
// paths, when they do not merge cleanly.
Result<std::string> mergeCommits(const std::filesystem::path& repo, const std::string& ours,
                                 const std::string& theirs, const std::string& message);

// Unloads libgit2 and the libraries it brought when no call has used it for `quiet` (about
// 6 MB of memory); the next call loads it again (a few ms). True when it was unloaded.
bool unloadGitWhenQuiet(std::chrono::milliseconds quiet);

}  // namespace boucle::scm
