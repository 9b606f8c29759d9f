#include "scm/git_repo.h"

#include <git2.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#include "os/files.h"
#include "os/shared_library.h"

namespace boucle::scm {
namespace fs = std::filesystem;

namespace {

// libgit2 is loaded at the first fetch (os/shared_library.h says why): with mbedTLS, libssh2 and
// Kerberos it is a dozen shared objects, 1.7 MB of an idle server's memory. Only the functions
// used here are looked up.
#define BOUCLE_GIT_FUNCTIONS(X)  \
  X(git_libgit2_init)            \
  X(git_libgit2_shutdown)        \
  X(git_libgit2_opts)            \
  X(git_error_last)              \
  X(git_repository_open)         \
  X(git_repository_free)         \
  X(git_remote_create_with_opts) \
  X(git_remote_fetch)            \
  X(git_remote_free)             \
  X(git_revparse_single)         \
  X(git_object_free)             \
  X(git_commit_lookup)           \
  X(git_commit_free)             \
  X(git_commit_id)               \
  X(git_commit_author)           \
  X(git_commit_summary)          \
  X(git_oid_tostr_s)             \
  X(git_oid_fromstrn)            \
  X(git_checkout_tree)           \
  X(git_commit_tree)             \
  X(git_tree_free)               \
  X(git_tree_entry_bypath)       \
  X(git_tree_entry_free)         \
  X(git_tree_entry_type)         \
  X(git_tree_entry_id)           \
  X(git_blob_lookup)             \
  X(git_blob_free)               \
  X(git_blob_rawcontent)         \
  X(git_blob_rawsize)            \
  X(git_graph_descendant_of)     \
  X(git_reference_list)          \
  X(git_reference_remove)        \
  X(git_strarray_dispose)

struct Api {
#define BOUCLE_GIT_MEMBER(name) decltype(&::name) name = nullptr;
  BOUCLE_GIT_FUNCTIONS(BOUCLE_GIT_MEMBER)
#undef BOUCLE_GIT_MEMBER
};

Result<const Api*> loadGit() {
  static std::once_flag once;
  static Api api;
  static std::string error;
  std::call_once(once, [] {
    os::SharedLibrary lib("libgit2.so.1.5", "libgit2-1.5");
#define BOUCLE_GIT_BIND(name) lib.bind(api.name, #name);
    BOUCLE_GIT_FUNCTIONS(BOUCLE_GIT_BIND)
#undef BOUCLE_GIT_BIND
    error = lib.error();
    if (!error.empty()) return;
    api.git_libgit2_init();
    // Its global and per-thread state (the last error) is released when the process ends.
    std::atexit([] { api.git_libgit2_shutdown(); });
  });
  if (!error.empty()) return Status::Internal(error);
  return &api;
}

// Only made once loadGit() succeeded.
struct Freer {
  void operator()(git_repository* p) const { (*loadGit())->git_repository_free(p); }
  void operator()(git_remote* p) const { (*loadGit())->git_remote_free(p); }
  void operator()(git_object* p) const { (*loadGit())->git_object_free(p); }
  void operator()(git_commit* p) const { (*loadGit())->git_commit_free(p); }
  void operator()(git_tree* p) const { (*loadGit())->git_tree_free(p); }
  void operator()(git_tree_entry* p) const { (*loadGit())->git_tree_entry_free(p); }
  void operator()(git_blob* p) const { (*loadGit())->git_blob_free(p); }
};
using Repo = std::unique_ptr<git_repository, Freer>;
using Remote = std::unique_ptr<git_remote, Freer>;
using Object = std::unique_ptr<git_object, Freer>;
using Commit = std::unique_ptr<git_commit, Freer>;
using Tree = std::unique_ptr<git_tree, Freer>;
using TreeEntry = std::unique_ptr<git_tree_entry, Freer>;
using Blob = std::unique_ptr<git_blob, Freer>;

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
Status dropHiddenRefs(const Api& git, git_repository* repo) {
  git_strarray refs{};
  if (git.git_reference_list(&refs, repo) != 0) return Status::Io(lastError(git, "list refs"));
  Status st;
  for (size_t i = 0; i < refs.count; ++i) {
    std::string_view name = refs.strings[i];
    if (name.starts_with("refs/heads/") || name.starts_with("refs/tags/") || name == "HEAD")
      continue;
    if (git.git_reference_remove(repo, refs.strings[i]) != 0 && st.ok())
      st = Status::Io(lastError(git, "remove " + std::string(name)));
  }
  git.git_strarray_dispose(&refs);
  return st;
}

}  // namespace

Result<bool> commitReaches(const fs::path& repoPath, const std::string& tipRev,
                           const std::string& commit) {
  auto loaded = loadGit();
  if (!loaded.ok()) return loaded.status();
  const Api& git = **loaded;
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

Result<bool> commitOnBranch(const fs::path& repoPath, const std::string& commit,
                            const std::string& branch) {
  return commitReaches(repoPath, "refs/heads/" + branch, commit);
}

Result<std::vector<std::string>> branchesContaining(const fs::path& repoPath,
                                                    const std::string& commit) {
  auto loaded = loadGit();
  if (!loaded.ok()) return loaded.status();
  const Api& git = **loaded;
  auto repo = open(git, repoPath);
  if (!repo.ok()) return repo.status();
  git_strarray refs{};
  if (git.git_reference_list(&refs, repo->get()) != 0) return Status::Io(lastError(git, "refs"));
  std::vector<std::string> branches;
  for (size_t i = 0; i < refs.count; ++i) {
    std::string_view name = refs.strings[i];
    if (name.starts_with("refs/heads/")) branches.emplace_back(name.substr(11));
  }
  git.git_strarray_dispose(&refs);
  std::vector<std::string> out;
  for (const auto& b : branches) {
    auto on = commitOnBranch(repoPath, commit, b);
    if (!on.ok()) return on.status();
    if (*on) out.push_back(b);
  }
  return out;
}

Status keepBranchesAndTags(const fs::path& mirror) {
  auto loaded = loadGit();
  if (!loaded.ok()) return loaded.status();
  auto repo = open(**loaded, mirror);
  if (!repo.ok()) return repo.status();
  return dropHiddenRefs(**loaded, repo->get());
}

bool fetchesInProcess(const std::string& url) {
  return url.starts_with("/") || url.starts_with("file://");
}

Status fetchInto(const fs::path& mirror, const std::string& url, const GitCredential& credential) {
  if (!fetchesInProcess(url)) return Status::Invalid("not fetched in-process: " + url);
  if (credential.kind == "ssh-key") return Status::Invalid("an ssh key needs an ssh URL");
  // A local repository that is not there is reported here: libgit2 1.5 leaks a little on that
  // error path.
  std::string local = url.starts_with("file://") ? url.substr(7) : url.starts_with("/") ? url : "";
  if (!local.empty() && !fs::exists(local)) {
    return Status::NotFound("git fetch " + url + ": no repository at " + local);
  }
  auto loaded = loadGit();
  if (!loaded.ok()) return loaded.status();
  const Api& git = **loaded;
  auto repo = open(git, mirror);
  if (!repo.ok()) return repo.status();
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
    static std::once_flag certificates;
    std::call_once(certificates, [&git] {
      if (fs::exists("/etc/ssl/certs/ca-certificates.crt")) {
        git.git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, "/etc/ssl/certs/ca-certificates.crt",
                             "/etc/ssl/certs");
      }
    });
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
  char* refspecs[] = {heads, tags};
  git_strarray specs{refspecs, 2};
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
  return dropHiddenRefs(git, repo->get());
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
  auto loaded = loadGit();
  if (!loaded.ok()) return loaded.status();
  const Api& git = **loaded;
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
}

Result<std::string> fileAtCommit(const fs::path& repoPath, const std::string& rev,
                                 const std::string& path) {
  auto loaded = loadGit();
  if (!loaded.ok()) return loaded.status();
  const Api& git = **loaded;
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
}

Status checkoutDetached(const fs::path& objectsOf, const std::string& originUrl,
                        const std::string& commit, const fs::path& dest) {
  auto loaded = loadGit();
  if (!loaded.ok()) return loaded.status();
  const Api& git = **loaded;
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
  if (git.git_checkout_tree(repo->get(), reinterpret_cast<const git_object*>(target.get()), &co) !=
      0) {
    return Status::Io(lastError(git, "checkout of " + commit));
  }
  return Status::Ok();
}

}  // namespace boucle::scm
