#include "scm/git_repo.h"

#include <git2.h>

#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "os/files.h"
#include "os/shared_library.h"

namespace boucle::scm {
namespace fs = std::filesystem;

namespace {

// libgit2 is loaded at the first fetch (os/shared_library.h says why): with mbedTLS, libssh2 and
// Kerberos it is a dozen shared objects, 1.7 MB of an idle server's memory. Only the functions
// used here are looked up.
#define BOUCLE_GIT_FUNCTIONS(X)       \
  X(git_libgit2_init)                 \
  X(git_libgit2_shutdown)             \
  X(git_libgit2_opts)                 \
  X(git_error_last)                   \
  X(git_repository_open)              \
  X(git_repository_free)              \
  X(git_remote_create_with_opts)      \
  X(git_remote_fetch)                 \
  X(git_remote_free)                  \
  X(git_revparse_single)              \
  X(git_object_free)                  \
  X(git_commit_lookup)                \
  X(git_commit_free)                  \
  X(git_commit_id)                    \
  X(git_commit_author)                \
  X(git_commit_summary)               \
  X(git_oid_tostr_s)                  \
  X(git_oid_fromstrn)                 \
  X(git_checkout_tree)                \
  X(git_commit_tree)                  \
  X(git_tree_free)                    \
  X(git_tree_entry_bypath)            \
  X(git_tree_entry_free)              \
  X(git_tree_entry_type)              \
  X(git_tree_entry_id)                \
  X(git_blob_lookup)                  \
  X(git_blob_free)                    \
  X(git_blob_rawcontent)              \
  X(git_blob_rawsize)                 \
  X(git_graph_descendant_of)          \
  X(git_reference_list)               \
  X(git_reference_remove)             \
  X(git_strarray_dispose)             \
  X(git_merge_commits)                \
  X(git_index_has_conflicts)          \
  X(git_index_conflict_iterator_new)  \
  X(git_index_conflict_next)          \
  X(git_index_conflict_iterator_free) \
  X(git_index_write_tree_to)          \
  X(git_index_free)                   \
  X(git_tree_lookup)                  \
  X(git_signature_new)                \
  X(git_signature_free)               \
  X(git_commit_create)                \
  X(git_commit_time)

struct Api {
#define BOUCLE_GIT_MEMBER(name) decltype(&::name) name = nullptr;
  BOUCLE_GIT_FUNCTIONS(BOUCLE_GIT_MEMBER)
#undef BOUCLE_GIT_MEMBER
};

// libgit2 and the dozen libraries it brings cost 6 MB of a server's memory, so it is loaded
// while calls use it and unloaded after a quiet spell (unloadGitWhenQuiet). libgit2 keeps
// per-thread state that only the thread's end frees (its shutdown frees the calling thread's
// alone), so every call runs on a thread of its own (onGitThread): no long-lived thread holds
// state into a library that is gone, and nothing leaks from one load to the next.
struct Library {
  std::mutex mu;  // guards everything below
  os::SharedLibrary lib;
  Api api;
  bool loaded = false;
  bool certificates = false;  // mbedTLS was told where the CA certificates are
  size_t users = 0;
  std::chrono::steady_clock::time_point lastUse;
};

Library& library() {
  static Library* l = new Library;  // never destroyed: calls may run while the process ends
  return *l;
}

// The loaded API, set while some call holds it; what the Freer below uses.
const Api* current = nullptr;

// Loads the library if need be and counts one more call using it (on the thread that will
// use it: libgit2's initialisation may keep state for the thread it runs on); the API, or
// nullptr with `error` set.
const Api* acquire(std::string& error) {
  Library& l = library();
  std::lock_guard lock(l.mu);
  if (!l.loaded) {
    l.lib = os::SharedLibrary("libgit2.so.1.5", "libgit2-1.5");
#define BOUCLE_GIT_BIND(name) l.lib.bind(l.api.name, #name);
    BOUCLE_GIT_FUNCTIONS(BOUCLE_GIT_BIND)
#undef BOUCLE_GIT_BIND
    if (!l.lib.error().empty()) {
      error = l.lib.error();
      l.lib.close();
      return nullptr;
    }
    l.api.git_libgit2_init();
    l.loaded = true;
    current = &l.api;
  }
  ++l.users;
  return &l.api;
}

void release() {
  Library& l = library();
  std::lock_guard lock(l.mu);
  --l.users;
  l.lastUse = std::chrono::steady_clock::now();
}

// `body(api)` on a thread of its own with the library loaded; its result, or why libgit2
// could not be loaded. The call stops counting as a user only once its thread has ended, so
// libgit2's per-thread clean-up at the thread's exit never runs in an unloaded library. What
// the body throws is thrown here, as if it had run on the caller's thread.
template <typename F>
auto onGitThread(F&& body) -> decltype(body(std::declval<const Api&>())) {
  using R = decltype(body(std::declval<const Api&>()));
  std::optional<R> out;
  std::exception_ptr thrown;
  bool held = false;
  try {
    std::thread([&] {
      std::string error;
      const Api* api = acquire(error);
      if (!api) {
        out.emplace(Status::Internal(error));
        return;
      }
      held = true;
      try {
        out.emplace(body(*api));
      } catch (...) {
        thrown = std::current_exception();
      }
    }).join();
  } catch (const std::system_error& e) {  // no thread to be had (a process at its limits)
    return R(Status::Internal(std::string("git: cannot start a thread: ") + e.what()));
  }
  if (held) release();
  if (thrown) std::rethrow_exception(thrown);
  return std::move(*out);
}

// Only made while a call holds the library (in onGitThread).
struct Freer {
  void operator()(git_repository* p) const { current->git_repository_free(p); }
  void operator()(git_remote* p) const { current->git_remote_free(p); }
  void operator()(git_object* p) const { current->git_object_free(p); }
  void operator()(git_commit* p) const { current->git_commit_free(p); }
  void operator()(git_tree* p) const { current->git_tree_free(p); }
  void operator()(git_tree_entry* p) const { current->git_tree_entry_free(p); }
  void operator()(git_blob* p) const { current->git_blob_free(p); }
  void operator()(git_index* p) const { current->git_index_free(p); }
  void operator()(git_signature* p) const { current->git_signature_free(p); }
  void operator()(git_index_conflict_iterator* p) const {
    current->git_index_conflict_iterator_free(p);
  }
};
using Repo = std::unique_ptr<git_repository, Freer>;
using Remote = std::unique_ptr<git_remote, Freer>;
using Object = std::unique_ptr<git_object, Freer>;
using Commit = std::unique_ptr<git_commit, Freer>;
using Tree = std::unique_ptr<git_tree, Freer>;
using TreeEntry = std::unique_ptr<git_tree_entry, Freer>;
using Blob = std::unique_ptr<git_blob, Freer>;
using Index = std::unique_ptr<git_index, Freer>;
using Signature = std::unique_ptr<git_signature, Freer>;
using ConflictIterator = std::unique_ptr<git_index_conflict_iterator, Freer>;

std::string lastError(const Api& git, const std::string& what) {
  const git_error* e = git.git_error_last();
  return what + ": " + (e && e->message ? e->message : "unknown libgit2 error");
}

Result<Repo> open(const Api& git, const fs::path& path) {
  git_repository* raw = nullptr;
  if (git.git_repository_open(&raw, path.c_str()) != 0) {
    return Status::Io(lastError(git, "cannot open repository " + path.string()));
  }
  return Repo(raw);
}

// A commit of the repository, found by a branch, tag or commit name (never an option).
struct FoundCommit {
  Repo repo;
  Object commit;  // freed before the repository it belongs to
};

Result<FoundCommit> openCommit(const Api& git, const fs::path& repoPath, const std::string& rev) {
  auto repo = open(git, repoPath);
  if (!repo.ok()) return repo.status();
  git_object* raw = nullptr;
  std::string spec = rev + "^{commit}";
  if (rev.empty() || rev[0] == '-' ||
      git.git_revparse_single(&raw, repo->get(), spec.c_str()) != 0) {
    return Status::NotFound(lastError(git, "no commit '" + rev + "'"));
  }
  return FoundCommit{std::move(repo).value(), Object(raw)};
}

// Refs a mirror made before it fetched branches and tags only (refs/pull/*, refs/merge-requests/*,
// notes) go: the commits they alone reached are then on no ref the server builds from.
// `keepRequest`: but the pull request's head just fetched (refs/boucle/request), which its run
// reads before dropping it.
Status dropHiddenRefs(const Api& git, git_repository* repo, bool keepRequest = false) {
  git_strarray refs{};
  if (git.git_reference_list(&refs, repo) != 0) return Status::Io(lastError(git, "list refs"));
  Status st;
  for (size_t i = 0; i < refs.count; ++i) {
    std::string_view name = refs.strings[i];
    if (name.starts_with("refs/heads/") || name.starts_with("refs/tags/") || name == "HEAD")
      continue;
    if (keepRequest && name == kRequestRef) continue;
    if (git.git_reference_remove(repo, refs.strings[i]) != 0 && st.ok())
      st = Status::Io(lastError(git, "remove " + std::string(name)));
  }
  git.git_strarray_dispose(&refs);
  return st;
}

}  // namespace

namespace {

Result<bool> reaches(const Api& git, const fs::path& repoPath, const std::string& tipRev,
                     const std::string& commit) {
  auto head = openCommit(git, repoPath, tipRev);
  if (!head.ok()) return false;
  git_oid wanted;
  if (commit.size() != 40 || git.git_oid_fromstrn(&wanted, commit.c_str(), commit.size()) != 0)
    return false;
  const git_oid* tip = git.git_commit_id(reinterpret_cast<git_commit*>(head->commit.get()));
  if (std::string(git.git_oid_tostr_s(tip)) == commit) return true;
  int r = git.git_graph_descendant_of(head->repo.get(), tip, &wanted);
  if (r < 0) return Status::Io(lastError(git, "ancestry of " + commit.substr(0, 12)));
  return r == 1;
}

}  // namespace

Result<bool> commitReaches(const fs::path& repoPath, const std::string& tipRev,
                           const std::string& commit) {
  return onGitThread(
      [&](const Api& git) -> Result<bool> { return reaches(git, repoPath, tipRev, commit); });
}

Result<bool> commitOnBranch(const fs::path& repoPath, const std::string& commit,
                            const std::string& branch) {
  return commitReaches(repoPath, "refs/heads/" + branch, commit);
}

Result<std::vector<std::string>> branchesContaining(const fs::path& repoPath,
                                                    const std::string& commit) {
  return onGitThread([&](const Api& git) -> Result<std::vector<std::string>> {
    std::vector<std::string> branches;
    {
      auto repo = open(git, repoPath);
      if (!repo.ok()) return repo.status();
      git_strarray refs{};
      if (git.git_reference_list(&refs, repo->get()) != 0)
        return Status::Io(lastError(git, "refs"));
      for (size_t i = 0; i < refs.count; ++i) {
        std::string_view name = refs.strings[i];
        if (name.starts_with("refs/heads/")) branches.emplace_back(name.substr(11));
      }
      git.git_strarray_dispose(&refs);
    }
    std::vector<std::string> out;
    for (const auto& b : branches) {
      auto on = reaches(git, repoPath, "refs/heads/" + b, commit);
      if (!on.ok()) return on.status();
      if (*on) out.push_back(b);
    }
    return out;
  });
}

Result<bool> onABranchOrTag(const fs::path& repoPath, const std::string& commit) {
  return onGitThread([&](const Api& git) -> Result<bool> {
    std::vector<std::string> refs;
    {
      auto repo = open(git, repoPath);
      if (!repo.ok()) return repo.status();
      git_strarray names{};
      if (git.git_reference_list(&names, repo->get()) != 0)
        return Status::Io(lastError(git, "refs"));
      for (size_t i = 0; i < names.count; ++i) {
        std::string_view name = names.strings[i];
        if (name.starts_with("refs/heads/") || name.starts_with("refs/tags/"))
          refs.emplace_back(name);
      }
      git.git_strarray_dispose(&names);
    }
    for (const auto& ref : refs) {
      auto on = reaches(git, repoPath, ref, commit);
      if (!on.ok()) return on.status();
      if (*on) return true;
    }
    return false;
  });
}

Status keepBranchesAndTags(const fs::path& mirror, bool keepRequest) {
  return onGitThread([&](const Api& git) -> Status {
    auto repo = open(git, mirror);
    if (!repo.ok()) return repo.status();
    return dropHiddenRefs(git, repo->get(), keepRequest);
  });
}

bool fetchesInProcess(const std::string& url) {
  return url.starts_with("/") || url.starts_with("file://");
}

Status fetchInto(const fs::path& mirror, const std::string& url, const GitCredential& credential,
                 const std::string& requestRef) {
  if (!fetchesInProcess(url)) return Status::Invalid("not fetched in-process: " + url);
  if (credential.kind == "ssh-key") return Status::Invalid("an ssh key needs an ssh URL");
  // A local repository that is not there is reported here: libgit2 1.5 leaks a little on that
  // error path.
  std::string local = url.starts_with("file://") ? url.substr(7) : url.starts_with("/") ? url : "";
  if (!local.empty() && !fs::exists(local)) {
    return Status::NotFound("git fetch " + url + ": no repository at " + local);
  }
  return onGitThread([&](const Api& git) -> Status {
    auto repo = open(git, mirror);
    if (!repo.ok()) return repo.status();
    // A request's head the forge does not have any more must not be read from an earlier fetch.
    if (!requestRef.empty()) {
      if (auto st = dropHiddenRefs(git, repo->get()); !st.ok()) return st;
    }
    // Anonymous, and without url.<base>.insteadOf rewriting: libgit2 1.5 leaks pcre2 match data
    // (about 20 KB) for every config entry that regex does not match, on every fetch. The
    // project's URL is used as given.
    git_remote_create_options create = GIT_REMOTE_CREATE_OPTIONS_INIT;
    create.repository = repo->get();
    create.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    git_remote* rawRemote = nullptr;
    if (git.git_remote_create_with_opts(&rawRemote, url.c_str(), &create) != 0) {
      return Status::Invalid(lastError(git, "bad repository URL '" + url + "'"));
    }
    Remote remote(rawRemote);

    if (url.starts_with("https://")) {
      // Debian's libgit2 uses mbedTLS, which knows no certificates unless told where they are.
      // Parsing them costs a megabyte or two, so only servers that fetch over https pay it.
      Library& l = library();
      std::lock_guard lock(l.mu);
      std::error_code ec;
      if (!l.certificates && fs::exists("/etc/ssl/certs/ca-certificates.crt", ec)) {
        git.git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, "/etc/ssl/certs/ca-certificates.crt",
                             "/etc/ssl/certs");
        l.certificates = true;
      }
    }
    git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
    opts.prune = GIT_FETCH_PRUNE;
    opts.update_fetchhead = 0;
    opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;  // the refspec brings every tag already
    opts.proxy_opts.type = GIT_PROXY_AUTO;               // http.proxy and the proxy variables
    std::string header;
    char* headers[1];
    if (credential.kind == "token") {
      header = authorizationHeader(credential);
      headers[0] = header.data();
      opts.custom_headers = {headers, 1};
    }
    // Branches and tags only: refs/pull/* and other hidden refs would let a forged or replayed
    // hook name a commit that is on no branch.
    char heads[] = "+refs/heads/*:refs/heads/*";
    char tags[] = "+refs/tags/*:refs/tags/*";
    // A request's head comes too, under a ref of its own that the request's run reads then
    // drops: its commits are in the mirror, on no branch or tag a push or a run could name.
    std::string request = "+" + requestRef + ":" + kRequestRef;
    char* refspecs[] = {heads, tags, request.data()};
    git_strarray specs{refspecs, requestRef.empty() ? 2u : 3u};
    int rc = git.git_remote_fetch(remote.get(), &specs, &opts, nullptr);
    // The header's copy is wiped, though libgit2 never puts headers into its messages.
    std::fill(header.begin(), header.end(), '\0');
    if (rc != 0) {
      std::string message = lastError(git, "git fetch " + url);
      if (!credential.secret.empty()) {
        for (size_t at; (at = message.find(credential.secret)) != std::string::npos;) {
          message.replace(at, credential.secret.size(), "***");
        }
      }
      return Status::Io(message);
    }
    return dropHiddenRefs(git, repo->get(), !requestRef.empty());
  });
}

size_t packCount(const fs::path& repo) {
  size_t n = 0;
  std::error_code ec;
  for (fs::directory_iterator it(repo / "objects/pack", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().extension() == ".pack") ++n;
  }
  return n;
}

Result<CommitInfo> describeCommit(const fs::path& repoPath, const std::string& rev) {
  return onGitThread([&](const Api& git) -> Result<CommitInfo> {
    auto found = openCommit(git, repoPath, rev);
    if (!found.ok()) return found.status();
    auto* commit = reinterpret_cast<git_commit*>(found->commit.get());
    CommitInfo info;
    info.sha = git.git_oid_tostr_s(git.git_commit_id(commit));
    if (const git_signature* author = git.git_commit_author(commit); author && author->name) {
      info.author = author->name;
    }
    if (const char* summary = git.git_commit_summary(commit)) info.subject = summary;
    return info;
  });
}

Result<std::string> fileAtCommit(const fs::path& repoPath, const std::string& rev,
                                 const std::string& path) {
  return onGitThread([&](const Api& git) -> Result<std::string> {
    auto found = openCommit(git, repoPath, rev);
    if (!found.ok()) return found.status();
    git_tree* rawTree = nullptr;
    if (git.git_commit_tree(&rawTree, reinterpret_cast<git_commit*>(found->commit.get())) != 0) {
      return Status::Io(lastError(git, "cannot read the tree of " + rev));
    }
    Tree tree(rawTree);
    std::string shortRev = rev.size() == 40 ? rev.substr(0, 12) : rev;
    git_tree_entry* rawEntry = nullptr;
    if (path.empty() || git.git_tree_entry_bypath(&rawEntry, tree.get(), path.c_str()) != 0) {
      return Status::NotFound(path + " is not in commit " + shortRev);
    }
    TreeEntry entry(rawEntry);
    if (git.git_tree_entry_type(entry.get()) != GIT_OBJECT_BLOB) {
      return Status::NotFound(path + " is not a file in commit " + shortRev);
    }
    git_blob* rawBlob = nullptr;
    if (git.git_blob_lookup(&rawBlob, found->repo.get(), git.git_tree_entry_id(entry.get())) != 0) {
      return Status::Io(lastError(git, "cannot read " + path + " of " + shortRev));
    }
    Blob blob(rawBlob);
    return std::string(static_cast<const char*>(git.git_blob_rawcontent(blob.get())),
                       static_cast<size_t>(git.git_blob_rawsize(blob.get())));
  });
}

Status checkoutDetached(const fs::path& objectsOf, const std::string& originUrl,
                        const std::string& commit, const fs::path& dest) {
  return onGitThread([&](const Api& git) -> Status {
    git_oid oid;
    if (commit.size() != 40 || git.git_oid_fromstrn(&oid, commit.data(), commit.size()) != 0) {
      return Status::Invalid("not a full commit id: '" + commit + "'");
    }
    // The repository's skeleton is written directly: git_repository_init and git_remote_create
    // rewrite the config under a lock five times, which cost more than the checkout itself.
    std::string url;  // a git-config string value: quoted, with \ and " escaped
    for (char c : originUrl) {
      if (c == '\\' || c == '"') url += '\\';
      if (c == '\n') return Status::Invalid("a line break in the repository URL");
      url += c;
    }
    const fs::path dotGit = dest / ".git";
    std::error_code ec;
    for (const char* sub : {"objects/info", "objects/pack", "refs/heads", "refs/tags"}) {
      fs::create_directories(dotGit / sub, ec);
      if (ec) return Status::Io("mkdir " + (dotGit / sub).string() + ": " + ec.message());
    }
    const std::pair<const char*, std::string> files[] = {
        {"HEAD", commit + "\n"},
        {"config",
         "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
         "\tlogallrefupdates = true\n[remote \"origin\"]\n\turl = \"" +
             url + "\"\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n"},
        {"objects/info/alternates", (objectsOf / "objects").string() + "\n"},
    };
    for (const auto& [name, content] : files) {
      // Not fsynced: the workspace is thrown away after the run, and a crash ends the run.
      if (auto st = os::writeFile(dotGit / name, content); !st.ok()) return st;
    }
    // Opened again so that the object database is read with the alternates in place.
    auto repo = open(git, dest);
    if (!repo.ok()) return repo.status();
    git_commit* rawCommit = nullptr;
    if (git.git_commit_lookup(&rawCommit, repo->get(), &oid) != 0) {
      return Status::NotFound(lastError(git, "no commit " + commit + " in " + objectsOf.string()));
    }
    Commit target(rawCommit);
    git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
    co.checkout_strategy = GIT_CHECKOUT_FORCE;
    if (git.git_checkout_tree(repo->get(), reinterpret_cast<const git_object*>(target.get()),
                              &co) != 0) {
      return Status::Io(lastError(git, "checkout of " + commit));
    }
    return Status::Ok();
  });
}

Result<std::string> mergeCommits(const fs::path& repoPath, const std::string& ours,
                                 const std::string& theirs, const std::string& message) {
  return onGitThread([&](const Api& git) -> Result<std::string> {
    auto base = openCommit(git, repoPath, ours);
    if (!base.ok()) return base.status();
    auto head = openCommit(git, repoPath, theirs);
    if (!head.ok()) return head.status();
    git_repository* repo = base->repo.get();
    // Both commits are looked up in the one repository the commit is written to.
    auto* ourCommit = reinterpret_cast<git_commit*>(base->commit.get());
    git_commit* theirCommit = nullptr;
    if (git.git_commit_lookup(
            &theirCommit, repo,
            git.git_commit_id(reinterpret_cast<git_commit*>(head->commit.get()))) != 0)
      return Status::Io(lastError(git, "no commit " + theirs));
    Commit theirsHeld(theirCommit);
    git_merge_options opts = GIT_MERGE_OPTIONS_INIT;
    git_index* rawIndex = nullptr;
    if (git.git_merge_commits(&rawIndex, repo, ourCommit, theirCommit, &opts) != 0)
      return Status::Io(lastError(git, "merge of " + theirs.substr(0, 12)));
    Index index(rawIndex);
    if (git.git_index_has_conflicts(index.get())) {
      std::string paths;
      git_index_conflict_iterator* rawIt = nullptr;
      if (git.git_index_conflict_iterator_new(&rawIt, index.get()) == 0) {
        ConflictIterator it(rawIt);
        const git_index_entry *ancestor, *our, *their;
        int shown = 0;
        while (git.git_index_conflict_next(&ancestor, &our, &their, it.get()) == 0) {
          const git_index_entry* e = our ? our : their ? their : ancestor;
          if (!e) continue;
          if (shown++ == 10) {
            paths += ", …";
            break;
          }
          paths += (paths.empty() ? "" : ", ") + std::string(e->path);
        }
      }
      return Status::Conflict("does not merge cleanly: conflicts in " + paths);
    }
    git_oid treeId;
    if (git.git_index_write_tree_to(&treeId, index.get(), repo) != 0)
      return Status::Io(lastError(git, "writing the merged tree"));
    git_tree* rawTree = nullptr;
    if (git.git_tree_lookup(&rawTree, repo, &treeId) != 0)
      return Status::Io(lastError(git, "reading the merged tree"));
    Tree tree(rawTree);
    // Dated as the head, so the same head merged into the same commit is the same merge.
    git_signature* rawSig = nullptr;
    if (git.git_signature_new(&rawSig, "boucle", "boucle@localhost",
                              git.git_commit_time(theirCommit), 0) != 0)
      return Status::Io(lastError(git, "signature"));
    Signature sig(rawSig);
    const git_commit* parents[] = {ourCommit, theirCommit};
    git_oid id;
    if (git.git_commit_create(&id, repo, nullptr, sig.get(), sig.get(), nullptr, message.c_str(),
                              tree.get(), 2, parents) != 0)
      return Status::Io(lastError(git, "writing the merge commit"));
    return std::string(git.git_oid_tostr_s(&id));
  });
}

bool unloadGitWhenQuiet(std::chrono::milliseconds quiet) {
  Library& l = library();
  std::lock_guard lock(l.mu);
  if (!l.loaded || l.users > 0 || std::chrono::steady_clock::now() - l.lastUse < quiet)
    return false;
  // No call runs in it (users is 0 under the lock), and the threads that ran calls have ended.
  l.api.git_libgit2_shutdown();
  current = nullptr;
  l.api = Api{};
  l.loaded = false;
  l.certificates = false;
  l.lib.close();
  return true;
}

}  // namespace boucle::scm
