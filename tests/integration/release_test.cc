// Releases against the real server: made from passing runs only, versioned from conventional
// commits or tags, notes grouped, immutable, artifacts downloaded whole or by range.
#include <gmock/gmock.h>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;
namespace fs = std::filesystem;

class ReleaseTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    repo_.write(".boucle.yml",
                "jobs:\n  build:\n    run: |\n      mkdir -p dist\n"
                "      seq 1 20000 > dist/app.txt\n"
                "      cat VERSION_NOTE >> dist/app.txt\n"
                "    artifacts: [dist/app.txt]\n"
                "  check:\n    needs: [build]\n    run: test ! -e FAIL\n");
    repo_.write("VERSION_NOTE", "one\n");
    repo_.commit("feat: the first feature", "Ada");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  }
  std::string auth() { return "Authorization: Bearer " + server_->token(); }
  std::string releaseUrl(const std::string& v) {
    return server_->url() + "/api/projects/web/releases/" + v;
  }
};

TEST_F(ReleaseTest, VersionsFollowTheCommitsAndNotesGroupThem) {
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  Output first = client({"release", "web"});
  ASSERT_EQ(first.exitCode, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("web 0.1.0"));
  EXPECT_THAT(first.out, HasSubstr("### Features\n\n- the first feature ("));

  repo_.write("VERSION_NOTE", "two\n");
  repo_.commit("fix(ui): a crash", "Bob");
  repo_.write("README", "tidy\n");
  repo_.commit("Tidy the README", "Eve");
  ASSERT_EQ(triggerAndWait("web", 2)["state"], "passed");
  Output second = client({"release", "web", "--json"});
  ASSERT_EQ(second.exitCode, 0) << second.err;
  json r = json::parse(second.out);
  EXPECT_EQ(r["version"], "0.1.1");
  EXPECT_EQ(r["previous_version"], "0.1.0");
  EXPECT_EQ(r["changes"].size(), 2u) << "only what is new since 0.1.0";
  EXPECT_THAT(r["notes"].get<std::string>(), HasSubstr("### Fixes\n\n- **ui**: a crash"));
  EXPECT_THAT(r["notes"].get<std::string>(), HasSubstr("### Other changes\n\n- Tidy the README"));
  EXPECT_THAT(r["notes"].get<std::string>(), Not(HasSubstr("first feature")));

  // Nothing new: no release. A breaking change before 1.0 bumps the minor version.
  EXPECT_NE(client({"release", "web"}).exitCode, 0);
  repo_.write("config.toml", "new = true\n");
  repo_.commit("refactor!: new config format", "Ada");
  ASSERT_EQ(triggerAndWait("web", 3)["state"], "passed");
  EXPECT_THAT(client({"release", "web"}).out, HasSubstr("web 0.2.0"));

  // A semver tag on the commit names the release.
  repo_.write("CHANGELOG", "1.0\n");
  repo_.commit("chore: prepare 1.0", "Ada");
  runCommand({"/usr/bin/git", "tag", "v1.0.0"}, repo_.dir());
  ASSERT_EQ(triggerAndWait("web", 4)["state"], "passed");
  Output tagged = client({"release", "web"});
  EXPECT_THAT(tagged.out, HasSubstr("web 1.0.0"));
  EXPECT_THAT(tagged.out, HasSubstr("### Other changes\n\n- chore: prepare 1.0 ("));
  EXPECT_THAT(tagged.out, Not(HasSubstr("new config format"))) << "that was in 0.2.0";

  Output list = client({"release", "list", "web"});
  EXPECT_THAT(list.out, HasSubstr("1.0.0"));
  EXPECT_LT(list.out.find("1.0.0"), list.out.find("0.1.0")) << "newest first";
  auto notes = curl("GET", releaseUrl("0.1.1") + "/notes.md", "", {auth()});
  EXPECT_EQ(notes.status, 200);
  EXPECT_THAT(notes.header("content-type"), HasSubstr("text/markdown"));
  EXPECT_THAT(notes.body, HasSubstr("## 0.1.1 ("));
}

TEST_F(ReleaseTest, OnlyAPassingRunIsReleasedAndAReleaseNeverChanges) {
  repo_.write("FAIL", "x");
  repo_.commit("fix: try something", "Mallory");
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "failed");
  Output refused = client({"release", "web", "--from", "1"});
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err, HasSubstr("only a passing run can be released: run 1 failed"));
  EXPECT_THAT(client({"release", "web"}).err, HasSubstr("no passing run"));

  runCommand({"/usr/bin/git", "rm", "-q", "FAIL"}, repo_.dir());
  repo_.commit("fix: undo it", "Ada");
  ASSERT_EQ(triggerAndWait("web", 2)["state"], "passed");
  ASSERT_EQ(client({"release", "web", "--version", "2.0.0"}).exitCode, 0);
  Output again = client({"release", "web", "--from", "2", "--version", "2.0.0"});
  EXPECT_EQ(again.exitCode, 1);
  EXPECT_THAT(again.err, HasSubstr("already has a release 2.0.0"));
  EXPECT_THAT(client({"release", "web", "--version", "1.9.0"}).err,
              HasSubstr("not after the latest release, 2.0.0"));
  EXPECT_THAT(client({"release", "web", "--version", "v3"}).err, HasSubstr("semver"));
  auto noToken =
      curl("POST", server_->url() + "/api/projects/web/releases", "{\"version\": \"3.0.0\"}");
  EXPECT_EQ(noToken.status, 401);

  json audit = api("/api/audit?project=web");
  ASSERT_EQ(audit["entries"].size(), 2u);  // the project's addition, then the release
  EXPECT_EQ(audit["entries"][1]["action"], "project.add");
  EXPECT_EQ(audit["entries"][0]["action"], "release");
  EXPECT_EQ(audit["entries"][0]["target"], "2.0.0");
  EXPECT_EQ(audit["entries"][0]["actor"], "initial admin token");
}

TEST_F(ReleaseTest, ArtifactsDownloadWholeOrByRangeWithTheirDigest) {
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_EQ(client({"release", "web"}).exitCode, 0);
  json rel = api("/api/projects/web/releases/0.1.0");
  ASSERT_EQ(rel["artifacts"].size(), 1u);
  std::string sha = rel["artifacts"][0]["sha256"];
  int64_t size = rel["artifacts"][0]["size"];
  std::string url = releaseUrl("0.1.0") + "/artifacts/dist%2Fapp.txt";

  auto whole = curl("GET", url, "", {auth()});
  ASSERT_EQ(whole.status, 200);
  EXPECT_EQ(static_cast<int64_t>(whole.body.size()), size);
  EXPECT_EQ(whole.header("etag"), "\"" + sha + "\"");
  EXPECT_THAT(whole.header("repr-digest"), HasSubstr("sha-256=:"));
  EXPECT_EQ(whole.header("accept-ranges"), "bytes");
  Output sum =
      runCommand({"/usr/bin/sh", "-c", "printf %s \"$0\" | sha256sum", whole.body}, repo_.dir());
  EXPECT_EQ(sum.out.substr(0, 64), sha);

  auto part = curl("GET", url, "", {auth(), "Range: bytes=6-15"});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, whole.body.substr(6, 10));
  EXPECT_EQ(part.header("content-range"), "bytes 6-15/" + std::to_string(size));
  auto tail = curl("GET", url, "", {auth(), "Range: bytes=-4"});
  EXPECT_EQ(tail.body, "one\n");
  auto beyond = curl("GET", url, "", {auth(), "Range: bytes=" + std::to_string(size) + "-"});
  EXPECT_EQ(beyond.status, 416);
  EXPECT_EQ(beyond.header("content-range"), "bytes */" + std::to_string(size));
  auto cached = curl("GET", url, "", {auth(), "If-None-Match: \"" + sha + "\""});
  EXPECT_EQ(cached.status, 304);
  EXPECT_EQ(curl("GET", releaseUrl("0.1.0") + "/artifacts/nope", "", {auth()}).status, 404);

  fs::path into = repo_.scratch() / "downloaded";
  Output dl = client({"release", "download", "web", "0.1.0", "--to", into.string()});
  ASSERT_EQ(dl.exitCode, 0) << dl.err;
  EXPECT_EQ(readFile(into / "dist/app.txt"), whole.body);
}

TEST_F(ReleaseTest, UploadsAreStreamedIntoTheStoreUnderTheirHash) {
  fs::path file = repo_.scratch() / "upload.bin";
  runCommand({"/usr/bin/sh", "-c", "head -c 5000000 /dev/urandom > \"$0\"", file.string()},
             repo_.dir());
  std::string sha =
      runCommand({"/usr/bin/sh", "-c", "sha256sum < \"$0\"", file.string()}, repo_.dir())
          .out.substr(0, 64);
  auto upload = [&](const std::string& query, bool token) {
    std::vector<std::string> argv{"/usr/bin/curl", "-sS", "-X", "POST", "-T", file.string()};
    if (token) argv.insert(argv.end(), {"-H", auth()});
    argv.push_back(server_->url() + "/api/blobs" + query);
    return runCommand(argv, repo_.dir());
  };
  auto countBlobs = [&] {
    size_t n = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(server_->data() / "blobs", ec), end; !ec && it != end;
         it.increment(ec)) {
      n += it->is_regular_file();
    }
    return n;
  };
  size_t before = countBlobs();
  EXPECT_THAT(upload("", false).out, HasSubstr("this needs a token"));
  EXPECT_THAT(upload("?sha256=" + std::string(64, '0'), true).out,
              HasSubstr("the content's SHA-256 is " + sha));
  EXPECT_EQ(countBlobs(), before + 1) << "stored under its real hash, no partial file left";
  json stored = json::parse(upload("?sha256=" + sha, true).out, nullptr, false);
  EXPECT_EQ(stored["sha256"], sha);
  EXPECT_EQ(stored["size"], 5000000);
  auto back = curl("GET", server_->url() + "/api/blobs/" + sha, "", {auth()});
  EXPECT_EQ(back.body, readFile(file));
  EXPECT_EQ(back.header("content-length"), "5000000");
  // Other requests keep their 1 MiB limit.
  auto big = curl("POST", server_->url() + "/api/projects", std::string(2 << 20, ' '), {auth()});
  EXPECT_EQ(big.status, 413);
}

}  // namespace
}  // namespace boucle::testing
