// What a job's own code can reach on the server, tried as a committer would: every job the
// server runs is sandboxed, whatever its pipeline file says, unless an admin allowed more.
#include <gmock/gmock.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

// The server's data folder and its user's home under /opt, which the sandbox shows read-only:
// they must be hidden all the same. The home holds a deploy key, as a real one would.
class JobTrustTest : public ServerFixture {
 protected:
  void SetUp() override {
    char t[] = "/opt/boucle-trust-XXXXXX";
    ASSERT_NE(::mkdtemp(t), nullptr);
    root_ = t;
    home_ = root_ / "home";
    fs::create_directories(home_ / ".ssh");
    std::ofstream(home_ / ".ssh" / "id_ed25519") << "PRIVATE KEY OF THE SERVER USER\n";
    if (const char* h = std::getenv("HOME")) oldHome_ = h;
    ::setenv("HOME", home_.c_str(), 1);
    startServer({}, root_ / "data");
  }
  void TearDown() override {
    server_.reset();
    ::setenv("HOME", oldHome_.c_str(), 1);
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void addProject(const std::string& name, std::vector<std::string> more = {}) {
    std::vector<std::string> args{"project", "add", name, repo_.dir().string(), "--poll", "0"};
    args.insert(args.end(), more.begin(), more.end());
    Output o = client(args);
    ASSERT_EQ(o.exitCode, 0) << o.all();
  }
  fs::path root_, home_;
  std::string oldHome_;
};

// A shell line that says whether `cmd` worked, without failing the job.
std::string attempt(const std::string& label, const std::string& cmd) {
  return "      if " + cmd + " >/dev/null 2>&1; then echo 'GOT " + label + "'; else echo 'NO " +
         label + "'; fi\n";
}

TEST_F(JobTrustTest, AJobSeesNeitherTheServersDataNorItsHomeNorAnotherProjectsWorkspace) {
  fs::path data = server_->data();
  // Another project's job holds a file in its workspace while the probe runs.
  repo_.write(".boucle.yml",
              "jobs:\n  hold:\n    run: |\n      echo other-project-secret > secret.txt\n"
              "      while [ ! -e go-on ]; do sleep 0.05; done\n");
  repo_.commit("holder");
  addProject("other");
  ASSERT_EQ(client({"trigger", "other"}).exitCode, 0);
  fs::path otherWs = workspace(1, "hold");
  ASSERT_TRUE(waitFor([&] { return fs::exists(otherWs / "secret.txt"); })) << server_->log();

  std::string d = data.string();
  repo_.write(".boucle.yml",
              "jobs:\n  probe:\n    run: |\n"
              "      echo \"home=$HOME\"\n" +
                  attempt("admin-token", "cat " + d + "/initial-admin-token") +
                  attempt("secret-key", "cat " + d + "/secret.key") +
                  attempt("database", "cat " + d + "/boucle.db") +
                  attempt("mirrors", "ls " + d + "/repos/web.git") +
                  attempt("blobs", "ls " + d + "/blobs/sha256") +
                  attempt("deploy-key", "cat " + home_.string() + "/.ssh/id_ed25519") +
                  attempt("other-workspace", "cat " + otherWs.string() + "/secret.txt") +
                  attempt("shadow", "grep -q root /etc/shadow") +
                  attempt("write-data", "touch " + d + "/pwned") +
                  attempt("write-usr", "touch /usr/pwned") +
                  attempt("write-etc", "touch /etc/pwned") +
                  attempt("write-own-workspace", "touch mine") +
                  attempt("write-private-tmp", "touch /tmp/mine") + "  other: {run: 'true'}\n");
  repo_.commit("probe");
  addProject("web");
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  json run = waitForRun(2);
  std::ofstream(otherWs / "go-on") << "go";
  EXPECT_EQ(run["state"], "passed") << run.dump();
  std::string log = client({"logs", "2/probe"}).out;
  EXPECT_THAT(log, HasSubstr("home=/home/boucle"));
  for (const char* hidden :
       {"admin-token", "secret-key", "database", "mirrors", "blobs", "deploy-key",
        "other-workspace", "shadow", "write-data", "write-usr", "write-etc"}) {
    EXPECT_THAT(log, HasSubstr(std::string("NO ") + hidden)) << log;
  }
  EXPECT_THAT(log, HasSubstr("GOT write-own-workspace"));
  EXPECT_THAT(log, HasSubstr("GOT write-private-tmp"));
  EXPECT_THAT(log, Not(HasSubstr("PRIVATE KEY")));
  EXPECT_FALSE(fs::exists(data / "pwned"));
  EXPECT_FALSE(fs::exists("/usr/pwned"));
  EXPECT_FALSE(fs::exists("/etc/pwned"));
  EXPECT_FALSE(fs::exists("/tmp/mine"));
  EXPECT_EQ(waitForRun(1)["state"], "passed");
}

TEST_F(JobTrustTest, APlainProcessJobNeedsAnAdminsLeaveNotThePipelineFiles) {
  repo_.write(".boucle.yml",
              "jobs:\n  host:\n    isolation: process\n    run: echo \"home=$HOME\"\n");
  repo_.commit("wants the host");
  addProject("web");
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  json refused = waitForRun(1);
  EXPECT_EQ(refused["state"], "failed");
  EXPECT_THAT(refused["jobs"][0]["reason"].get<std::string>(),
              HasSubstr("isolation: process is not allowed for web's jobs"));

  Output dev = client({"token", "add", "dana", "--role", "developer"});
  ASSERT_EQ(dev.exitCode, 0) << dev.err;
  std::string dana = dev.out.substr(0, dev.out.find('\n'));
  Output sneaky = repo_.boucle({"project", "set", "web", "--allow-process-jobs", "true"},
                               {"BOUCLE_SERVER=" + server_->url(), "BOUCLE_TOKEN=" + dana});
  EXPECT_NE(sneaky.exitCode, 0);
  EXPECT_THAT(sneaky.err, HasSubstr("it is for admins"));

  Output set = client({"project", "set", "web", "--allow-process-jobs", "true"});
  ASSERT_EQ(set.exitCode, 0) << set.all();
  EXPECT_EQ(api("/api/projects/web")["allow_process_jobs"], true);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  EXPECT_EQ(waitForRun(2)["state"], "passed");
  EXPECT_EQ(client({"logs", "2/host"}).out, "home=" + home_.string() + "\n");
  json audit = api("/api/audit?project=web");
  EXPECT_EQ(audit["entries"][0]["action"], "project.set");
  EXPECT_THAT(audit["entries"][0]["detail"].get<std::string>(),
              HasSubstr("allow_process_jobs=true"));
}

TEST_F(JobTrustTest, CacheFoldersAreKeptPerProjectAndBranch) {
  repo_.write(".boucle.yml",
              "jobs:\n  build:\n    cache: [~/.cache/tool, deps]\n    run: |\n"
              "      echo \"seen: $(ls ~/.cache/tool | tr '\\n' ' ')|$(ls deps | tr '\\n' ' ')\"\n"
              "      touch ~/.cache/tool/from-$BOUCLE_BRANCH deps/dep-$BOUCLE_BRANCH\n");
  repo_.commit("c");
  repo_.git({"branch", "feature"});
  addProject("web", {"--branch", "main", "--branch", "feature"});
  addProject("api");
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ASSERT_EQ(waitForRun(1)["state"], "passed");
  ASSERT_EQ(client({"trigger", "web", "--ref", "feature"}).exitCode, 0);
  ASSERT_EQ(waitForRun(2)["state"], "passed");
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ASSERT_EQ(waitForRun(3)["state"], "passed");
  ASSERT_EQ(client({"trigger", "api"}).exitCode, 0);
  ASSERT_EQ(waitForRun(4)["state"], "passed");
  EXPECT_EQ(client({"logs", "1/build"}).out, "seen: |\n");
  // A branch does not see the default branch's cache, nor plant files in it.
  EXPECT_EQ(client({"logs", "2/build"}).out, "seen: |\n");
  EXPECT_EQ(client({"logs", "3/build"}).out, "seen: from-main |dep-main \n");
  EXPECT_EQ(client({"logs", "4/build"}).out, "seen: |\n");  // another project: its own
}

// A cache folder is the job's to fill, symlinks included; another cache entry beneath it must
// not make the server bind (writable) whatever such a symlink points at.
TEST_F(JobTrustTest, ASymlinkInACacheDoesNotLeadAnotherCacheOutOfIt) {
  fs::path outside = root_ / "outside";
  fs::create_directories(outside);
  repo_.write(".boucle.yml", "jobs:\n  build:\n    cache: [deps]\n    run: ln -s " +
                                 outside.string() + " deps/planted\n");
  repo_.commit("c");
  addProject("web");
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  ASSERT_EQ(waitForRun(1)["state"], "passed");
  // The symlink is kept with the cache; now the second entry is named through it.
  repo_.write(".boucle.yml",
              "jobs:\n  build:\n    cache: [deps, deps/planted]\n    run: |\n"
              "      touch deps/planted/pwned 2>/dev/null && echo wrote || echo refused\n");
  repo_.commit("through the link");
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  json run = waitForRun(2);
  EXPECT_FALSE(fs::exists(outside / "pwned")) << run.dump() << client({"logs", "2/build"}).out;
  EXPECT_TRUE(fs::is_empty(outside));
  EXPECT_EQ(curl("GET", server_->url() + "/api/health").status, 200);
}

// A cache folder in the workspace is mounted where the commit says: through a committed
// symlink, bwrap would make the folders on the way wherever the link leads, on the host.
TEST_F(JobTrustTest, ACacheFolderIsNotMadeThroughACommittedSymlink) {
  fs::path target = root_ / "target";
  fs::create_directories(target);
  // While bwrap sets the sandbox up, the host's root is at /oldroot.
  fs::create_symlink("/oldroot" + target.string(), repo_.dir() / "lnk");
  repo_.write(".boucle.yml", "jobs:\n  build:\n    cache: [lnk/made]\n    run: 'true'\n");
  repo_.commit("c");
  addProject("web");
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  json run = waitForRun(1);
  EXPECT_EQ(run["state"], "failed");
  EXPECT_THAT(run["jobs"][0]["reason"].get<std::string>(), HasSubstr("cache: 'lnk/made'"))
      << run.dump();
  EXPECT_FALSE(fs::exists(target / "made"));
}

// The sandbox's launcher reads its options NUL-separated: a NUL in a value would add options
// of the committer's choosing (here the host's root, writable, at /host).
TEST_F(JobTrustTest, ANulInAnEnvironmentValueAddsNoSandboxOption) {
  repo_.write(".boucle.yml",
              "jobs:\n  build:\n    env: {X: \"a\\0--bind\\0/\\0/host\"}\n"
              "    run: ls /host/etc && echo ESCAPED\n");
  repo_.commit("c");
  addProject("web");
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  json run = waitForRun(1);
  EXPECT_EQ(run["state"], "failed");
  EXPECT_THAT(run["reason"].get<std::string>(), HasSubstr("holds a NUL byte")) << run.dump();
  EXPECT_THAT(client({"logs", "1/build"}).all(), Not(HasSubstr("ESCAPED")));
}

// A job's environment is the job's: LD_PRELOAD in it reaches the job's programs inside the
// sandbox, never bwrap itself, which runs on the host.
TEST_F(JobTrustTest, LdPreloadInAJobsEnvironmentDoesNotReachTheSandboxLauncher) {
  fs::path marker = root_ / "preloaded";
  fs::path lib = root_ / "evil.so";
  {
    std::ofstream c(root_ / "evil.c");
    c << "#include <stdio.h>\n__attribute__((constructor)) static void hit(void) {\n"
         "  FILE* f = fopen(\""
      << marker.string()
      << "\", \"a\");\n"
         "  if (f) { fputs(\"loaded\\n\", f); fclose(f); }\n}\n";
  }
  Output cc = runCommand(
      {"/usr/bin/cc", "-shared", "-fPIC", "-o", lib.string(), (root_ / "evil.c").string()}, root_);
  ASSERT_EQ(cc.exitCode, 0) << cc.all();
  // The library works: any program on the host that loads it leaves the marker.
  ASSERT_EQ(runCommand({"/bin/true"}, root_, {"LD_PRELOAD=" + lib.string()}).exitCode, 0);
  ASSERT_TRUE(fs::exists(marker));
  fs::remove(marker);

  repo_.write(".boucle.yml", "jobs:\n  build:\n    env: {LD_PRELOAD: " + lib.string() +
                                 "}\n    run: echo \"preload=$LD_PRELOAD\"\n");
  repo_.commit("c");
  addProject("web");
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  json run = waitForRun(1);
  EXPECT_EQ(run["state"], "passed") << run.dump();
  // Inside the sandbox the folder is read-only: only a program on the host could write there.
  EXPECT_FALSE(fs::exists(marker)) << readFile(marker);
}

}  // namespace
}  // namespace boucle::testing

namespace boucle::testing {
namespace {

class JobFilesTest : public ServerFixture {};

// The commit's files are the committer's: a folder of an artifact's path that is a symlink
// out of the workspace must not make the server write there, nor a symlink artifact make it
// read (and publish) one of its own files.
TEST_F(JobFilesTest, ArtifactsNeverFollowASymlinkOutOfTheWorkspace) {
  fs::path outside = repo_.scratch() / "outside";
  fs::create_directories(outside);
  fs::create_symlink(outside, repo_.dir() / "dist");
  std::string key = (server_->data() / "secret.key").string();
  repo_.write(".boucle.yml",
              "jobs:\n"
              "  build:\n    checkout: false\n"
              "    run: mkdir dist && echo payload > dist/app.txt\n"
              "    artifacts: [dist/app.txt]\n"
              "  use:\n    needs: [build]\n    run: cat dist/app.txt\n"
              "  leak:\n    checkout: false\n    run: ln -s " +
                  key + " leak.txt\n    artifacts: [leak.txt]\n");
  repo_.commit("dist is a symlink");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  json run = waitForRun(1);
  EXPECT_EQ(run["state"], "failed");
  std::map<std::string, json> jobs;
  for (const auto& j : run["jobs"]) jobs[j["name"]] = j;
  EXPECT_EQ(jobs["build"]["state"], "passed");
  EXPECT_EQ(jobs["use"]["state"], "failed");
  EXPECT_THAT(jobs["use"]["reason"].get<std::string>(), HasSubstr("leads out of the folder"));
  EXPECT_FALSE(fs::exists(outside / "app.txt"));
  EXPECT_EQ(jobs["leak"]["state"], "failed");
  EXPECT_THAT(jobs["leak"]["reason"].get<std::string>(), HasSubstr("outside the workspace"));
  EXPECT_EQ(api("/api/runs/1/artifacts")["artifacts"].size(), 1u);  // build's only
}

// Killing its supervisor does not let a job's processes outlive it: on the server too, as a
// plain process an admin allowed, and in the sandbox, where the supervisor is out of reach.
TEST_F(JobFilesTest, AJobThatKillsItsSupervisorLeavesNothingRunning) {
  repo_.write(".boucle.yml",
              "jobs:\n"
              "  plain:\n    isolation: process\n    run: |\n"
              "      setsid sleep 304.5 &\n      sleep 0.2\n      kill -9 $PPID\n"
              "      sleep 304.5\n"
              "  boxed:\n    run: |\n"
              "      setsid sleep 305.5 &\n      sleep 0.2\n"
              "      kill -9 $PPID || echo cannot kill $PPID\n      echo still here\n");
  repo_.commit("rogue jobs");
  ASSERT_EQ(
      client({"project", "add", "web", repo_.dir().string(), "--poll", "0", "--allow-process-jobs"})
          .exitCode,
      0);
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  json run = waitForRun(1);
  std::map<std::string, json> jobs;
  for (const auto& j : run["jobs"]) jobs[j["name"]] = j;
  EXPECT_EQ(jobs["plain"]["state"], "failed");
  EXPECT_THAT(jobs["plain"]["reason"].get<std::string>(), HasSubstr("supervisor died"));
  EXPECT_EQ(jobs["boxed"]["state"], "passed");
  EXPECT_THAT(client({"logs", "1/boxed"}).out, HasSubstr("still here"));
  EXPECT_TRUE(processesWithArgument("304.5").empty());
  EXPECT_TRUE(processesWithArgument("305.5").empty());
  // The server goes on running jobs with new supervisors.
  ASSERT_EQ(client({"trigger", "web"}).exitCode, 0);
  EXPECT_EQ(waitForRun(2)["jobs"][1]["state"], "passed");
}

}  // namespace
}  // namespace boucle::testing
