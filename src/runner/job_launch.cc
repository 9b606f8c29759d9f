#include "runner/job_launch.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "core/encoding.h"
#include "core/glob.h"
#include "os/beneath.h"
#include "os/cgroup.h"
#include "os/process.h"
#include "runner/direct_command.h"
#include "runner/sandbox.h"
#include "vault/blob_store.h"

namespace boucle::runner::detail {
namespace fs = std::filesystem;

namespace {

// Needed jobs' artifacts into the new workspace. The workspace holds the commit's files, which
// a committer chose: a folder of an artifact's path may be a symlink to anywhere, so every path
// is opened beneath the workspace and nothing is written outside it.
Status placeNeededArtifacts(const pipeline::Job& job, const LaunchContext& ctx,
                            const fs::path& ws) {
  vault::BlobStore blobs(ctx.config->blobRoot);
  os::Fd root;
  std::vector<std::pair<std::string, const std::vector<ArtifactEntry>*>> sources;
  if (!ctx.config->givenArtifacts.empty())
    sources.emplace_back("(given)", &ctx.config->givenArtifacts);
  if (auto it = ctx.config->jobInputs.find(job.name); it != ctx.config->jobInputs.end())
    sources.emplace_back("(its inputs)", &it->second);
  for (const auto& need : job.needs) {
    if (auto it = ctx.artifacts.find(need); it != ctx.artifacts.end())
      sources.emplace_back(need, &it->second);
  }
  for (const auto& [need, list] : sources) {
    for (const auto& a : *list) {
      if (!root) {
        auto opened = os::openDirectory(ws);
        if (!opened.ok()) return opened.status();
        root = std::move(opened).value();
      }
      auto fail = [&](const Status& st) {
        return Status::Io("artifact " + a.path + " of job " + need + ": " + st.message());
      };
      fs::path rel(a.path);
      auto dir = os::makeDirsBeneath(root.get(), rel.parent_path().string());
      if (!dir.ok()) return fail(dir.status());
      std::string name = rel.filename().string();
      ::unlinkat(dir->get(), name.c_str(), 0);  // a file of the checkout's is replaced
      auto out = os::openBeneath(dir->get(), name, O_WRONLY | O_CREAT | O_EXCL,
                                 static_cast<mode_t>(a.mode & 0777));
      if (!out.ok()) return fail(out.status());
      if (auto st = blobs.copyOutTo(a.sha256, out->get(), a.path); !st.ok()) {
        ::unlinkat(dir->get(), name.c_str(), 0);
        return fail(st);
      }
      ::fchmod(out->get(), static_cast<mode_t>(a.mode & 0777));  // whatever the umask took
    }
  }
  return Status::Ok();
}

// A JUnit report the job wrote, opened beneath its workspace and bounded in size: the job
// controls both the file and what it points to.
constexpr off_t kMaxReportBytes = 32 << 20;
Result<std::string> readReportBeneath(const fs::path& ws, const std::string& rel) {
  auto root = os::openDirectory(ws);
  if (!root.ok()) return root.status();
  auto in = os::openBeneath(root->get(), rel, O_RDONLY);
  if (!in.ok()) return in.status();
  struct stat st {};
  if (::fstat(in->get(), &st) != 0 || !S_ISREG(st.st_mode))
    return Status::Invalid("not a regular file");
  if (st.st_size > kMaxReportBytes)
    return Status::Invalid("larger than 32 MiB (" + std::to_string(st.st_size) +
                           " bytes): not read");
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(in->get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

Result<TestReport> parseJUnitBeneath(const fs::path& ws, const std::string& rel) {
  auto text = readReportBeneath(ws, rel);
  if (!text.ok()) return text.status();
  return parseJUnit(*text);
}

// A cache entry's host folder name: flat (one folder per entry, right in the branch's cache
// folder) and unique, every character but letters, digits, '.' and '-' spelled _XX. Flat, so
// making and binding it never walks through a folder a job wrote: a job can plant a symlink
// inside one cache folder, never on the way to another.
std::string cacheFolderName(const std::string& entry) {
  static const char* hex = "0123456789abcdef";
  // Escaping may triple a name: a long one is named by its hash, within a file name's 255.
  if (entry.size() > 80) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(entry.data()), entry.size());
    return "sha256-" + hexOf(digest, sizeof digest);
  }
  std::string name;
  for (unsigned char c : entry) {
    if (std::isalnum(c) || c == '.' || c == '-') {
      name += static_cast<char>(c);
    } else {
      name += '_';
      name += hex[c >> 4];
      name += hex[c & 15];
    }
  }
  return name;
}

// The job's `cache:` folders: (host folder, path in the sandbox), the host folders made.
Result<std::vector<std::pair<fs::path, fs::path>>> cacheBinds(const pipeline::Job& job,
                                                              const RunConfig& c,
                                                              const fs::path& ws) {
  std::vector<std::pair<fs::path, fs::path>> binds;
  if (c.cacheDir.empty()) return binds;
  std::error_code ec;
  fs::create_directories(c.cacheDir, ec);  // the server's own folders, above any job's reach
  if (ec) return errnoStatus("cache folder " + c.cacheDir.string(), ec.value());
  for (const auto& entry : job.cache) {
    bool home = entry.starts_with("~/");
    std::string rel = home ? entry.substr(2) : entry;
    while (!rel.empty() && rel.back() == '/') rel.pop_back();
    fs::path host = c.cacheDir / cacheFolderName(entry);
    struct stat st {};
    if (::mkdir(host.c_str(), 0755) != 0 && errno != EEXIST)
      return errnoStatus("cache folder " + host.string(), errno);
    if (::lstat(host.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Status::Invalid("cache folder " + host.string() + " is not a folder");
    if (!home) {
      // Its mount point made here, beneath the workspace: bwrap would follow a committed
      // symlink on the way (to /oldroot, the host's root, while it sets the sandbox up) and
      // make folders wherever it leads.
      auto wsFd = os::openDirectory(ws);
      if (!wsFd.ok()) return wsFd.status();
      auto made = os::makeDirsBeneath(wsFd->get(), rel);
      if (!made.ok()) return Status::Invalid("cache: '" + entry + "': " + made.status().message());
    }
    binds.emplace_back(host, (home ? fs::path(kSandboxHome) : ws) / rel);
  }
  return binds;
}

}  // namespace

pipeline::Isolation isolationOf(const pipeline::Job& job, const RunConfig& c) {
  if (job.isolation) return *job.isolation;
  if (!job.network) return pipeline::Isolation::kSandbox;
  return c.defaultIsolation;
}

std::string logFileName(const std::string& job, int attempt) {
  return attempt <= 1 ? job + ".log" : job + ".attempt-" + std::to_string(attempt) + ".log";
}

fs::path logPathFor(const RunConfig& c, const std::string& job, int attempt) {
  return c.runDir / "logs" / logFileName(job, attempt);
}

std::string jobScript(const pipeline::Job& job) {
  if (job.commands.size() == 1) return job.commands[0];
  std::string script;
  for (const auto& cmd : job.commands) {
    script += "printf '%s\\n' " + shellQuote("$ " + cmd) + "\n" + cmd + "\n";
  }
  return script;
}

std::vector<std::string> jobEnvironment(const pipeline::Job& job, const RunConfig& c, int attempt,
                                        const fs::path& workspace) {
  std::vector<std::string> env = c.baseEnv;
  bool sandbox = isolationOf(job, c) == pipeline::Isolation::kSandbox;
  if (sandbox) {
    // Inside the sandbox the host's HOME and TMPDIR do not exist.
    std::erase_if(env, [](const std::string& kv) {
      return kv.rfind("HOME=", 0) == 0 || kv.rfind("TMPDIR=", 0) == 0;
    });
    env.push_back(std::string("HOME=") + kSandboxHome);
    env.push_back("TMPDIR=/tmp");
  }
  for (const auto& [k, v] : job.env) env.push_back(k + "=" + v);
  for (const auto& [k, v] : c.secrets) env.push_back(k + "=" + v);
  env.push_back("CI=true");
  env.push_back("BOUCLE=true");
  env.push_back("BOUCLE_PROJECT=" + c.project);
  env.push_back("BOUCLE_RUN_ID=" + c.runId);
  env.push_back("BOUCLE_JOB=" + job.name);
  env.push_back("BOUCLE_ATTEMPT=" + std::to_string(attempt + c.firstAttempt - 1));
  env.push_back("BOUCLE_COMMIT=" + c.commit);
  env.push_back("BOUCLE_BRANCH=" + c.branch);
  env.push_back("BOUCLE_WORKSPACE=" + workspace.string());
  return env;
}

Result<Launched> launchJob(const pipeline::Job& job, int attempt, LaunchContext& ctx,
                           SupervisorClient& supervisor) {
  const RunConfig& c = *ctx.config;
  auto isolation = isolationOf(job, c);
  if (isolation == pipeline::Isolation::kProcess && !c.processAllowed) {
    return Status::Unauthorized(
        "isolation: process is not allowed for " + c.project +
        "'s jobs on this server, which runs jobs in the sandbox (an admin may allow it: boucle "
        "project set " +
        c.project + " --allow-process-jobs)");
  }
  if (isolation == pipeline::Isolation::kContainer) {
    return Status::Invalid("isolation: container is not supported yet; use process or sandbox");
  }
  auto t0 = std::chrono::steady_clock::now();
  Launched l;
  l.workspace = c.workRoot() / "ws" / job.name;
  std::error_code ec;
  if (attempt > 1) fs::remove_all(l.workspace, ec);  // a retry starts afresh
  if (attempt == 1 && ctx.prepared.erase(job.name)) {
    // made while the jobs it needs ran
  } else if (job.checkout && ctx.source) {
    if (auto st = ctx.source->copyTo(l.workspace); !st.ok()) return st;
  } else if (::mkdir(l.workspace.c_str(), 0755) != 0) {
    return errnoStatus("mkdir " + l.workspace.string(), errno);
  }
  if (auto st = placeNeededArtifacts(job, ctx, l.workspace); !st.ok()) return st;

  std::vector<std::string> shell =
      job.shell == pipeline::Shell::kBash
          ? std::vector<std::string>{"/bin/bash", "-e", "-o", "pipefail", "-c", jobScript(job)}
          : std::vector<std::string>{"/bin/sh", "-e", "-c", jobScript(job)};
  auto env = jobEnvironment(job, c, attempt, l.workspace);
  std::vector<std::string> command;
  if (isolation == pipeline::Isolation::kSandbox) {
    auto bwrap = findBubblewrap();
    if (!bwrap.ok()) return bwrap.status();
    auto binds = cacheBinds(job, c, l.workspace);
    if (!binds.ok()) return binds.status();
    auto argv = sandboxArgv(*bwrap, {l.workspace, env, job.network, *binds, c.hiddenPaths, shell});
    auto launch = throughArgsDescriptor(argv);
    if (!launch.ok()) return launch.status();
    auto options = os::sealedText(launch->options);
    if (!options.ok()) return options.status();
    l.extra = std::move(options).value();
    command = std::move(launch->commandLine);
    env = {"PATH=/usr/bin:/bin"};
  } else if (auto direct = job.shell == pipeline::Shell::kSh && job.commands.size() == 1
                               ? directCommand(job.commands[0], env, l.workspace)
                               : std::nullopt) {
    command = std::move(*direct);
    // What sh would have exported: its working directory.
    std::erase_if(env, [](const std::string& kv) { return kv.starts_with("PWD="); });
    env.push_back("PWD=" + l.workspace.string());
  } else {
    command = shell;
  }

  int fds[2];
  if (auto st = os::makeOutputPipe(fds); !st.ok()) return st;
  l.output.reset(fds[0]);
  os::Fd writeEnd(fds[1]);
  l.prepareTime = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - t0);
  if (auto* cgroups = os::JobCgroups::get()) l.cgroup = cgroups->make();
  if (auto st = supervisor.request(c.killGrace, l.workspace, command, env, writeEnd.get(), l.cgroup,
                                   l.extra.get());
      !st.ok()) {
    os::JobCgroups::end(l.cgroup);
    return st;
  }
  return l;
}

Status collectArtifacts(const pipeline::Job& job, const fs::path& ws, const RunConfig& c,
                        std::vector<ArtifactEntry>& out) {
  vault::BlobStore blobs(c.blobRoot);
  auto root = os::openDirectory(ws);
  if (!root.ok()) return root.status();
  for (const auto& pattern : job.artifacts) {
    auto files = expandGlob(ws, pattern);
    if (!files.ok()) return Status::Invalid("artifacts: " + files.status().message());
    if (files->empty()) {
      return Status::NotFound("artifacts: '" + pattern + "' matched no file in the workspace");
    }
    for (const auto& rel : *files) {
      // Opened beneath the workspace: a symlink the job left cannot make the server read (and
      // publish) a file of its own.
      auto in = os::openBeneath(root->get(), rel, O_RDONLY);
      if (!in.ok()) return Status::Invalid("artifacts: " + in.status().message());
      struct stat st {};
      if (::fstat(in->get(), &st) != 0 || !S_ISREG(st.st_mode))
        return Status::Invalid("artifacts: " + rel + " is not a regular file");
      auto ref = blobs.putFd(in->get(), rel);
      if (!ref.ok()) return ref.status();
      out.push_back({rel, ref->sha256, ref->size, static_cast<int>(st.st_mode & 0777)});
    }
  }
  return Status::Ok();
}

std::optional<TestReport> collectReports(const pipeline::Job& job, const fs::path& ws,
                                         const fs::path& sourceDir) {
  if (job.junit.empty()) return std::nullopt;
  TestReport total;
  for (const auto& pattern : job.junit) {
    auto files = expandGlob(ws, pattern);
    if (!files.ok()) {
      total.warnings.push_back("reports: " + files.status().message());
      continue;
    }
    if (files->empty()) total.warnings.push_back("reports: '" + pattern + "' matched no file");
    for (const auto& rel : *files) {
      auto r = parseJUnitBeneath(ws, rel);
      std::error_code ec;
      // symlink_status: the checkout is the commit's, a link there is not followed.
      if (r.ok() && job.checkout && !sourceDir.empty() &&
          fs::exists(fs::symlink_status(sourceDir / rel, ec)))
        r->fromCheckout = true;
      if (r.ok()) {
        total.merge(*r);
      } else {
        total.warnings.push_back(rel + ": " + r.status().message());
      }
    }
  }
  return total;
}

std::vector<Measurement> collectBenchmarks(const pipeline::Job& job, const fs::path& ws,
                                           std::vector<std::string>& warnings) {
  std::vector<Measurement> out;
  for (const auto& pattern : job.benchmark) {
    auto files = expandGlob(ws, pattern);
    if (!files.ok()) {
      warnings.push_back("reports: " + files.status().message());
      continue;
    }
    if (files->empty()) warnings.push_back("reports: '" + pattern + "' matched no file");
    for (const auto& rel : *files) {
      auto text = readReportBeneath(ws, rel);
      auto r = text.ok() ? parseBenchmarks(*text) : Result<std::vector<Measurement>>(text.status());
      if (!r.ok()) {
        warnings.push_back(rel + ": " + r.status().message());
        continue;
      }
      for (auto& m : *r) {
        if (out.size() >= kMaxMeasurements) break;
        out.push_back(std::move(m));
      }
    }
  }
  return out;
}

}  // namespace boucle::runner::detail
