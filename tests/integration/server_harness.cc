#include "server_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <stdexcept>

#include "harness.h"

extern char** environ;

namespace boucle::testing {
namespace fs = std::filesystem;

namespace {
pid_t spawnLogged(const std::vector<std::string>& argv, const fs::path& out) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> a;
  for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  pid_t pid = -1;
  posix_spawn(&pid, a[0], &fa, nullptr, a.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}
}  // namespace

std::string newPostgresDatabase() {
  static std::string dir;
  static bool owned = false;
  static int next = 0;
  if (dir.empty()) {
    const char* chosen = getenv("BOUCLE_TEST_DB");  // "postgres" or "postgres:CLUSTER_DIR"
    std::string_view given = chosen ? chosen : "";
    if (const char* shared = getenv("BOUCLE_TEST_PG"); shared && *shared) {
      dir = shared;
    } else if (given.starts_with("postgres:")) {
      dir = std::string(given.substr(9));
    } else {
      char t[] = "/tmp/boucle-pg-XXXXXX";
      dir = mkdtemp(t);
      owned = true;
      auto started = runCommand({PG_CLUSTER_SH, "start", dir}, "/");
      if (started.exitCode != 0) throw std::runtime_error("PostgreSQL: " + started.err);
      static struct Stop {
        ~Stop() {
          if (owned) runCommand({PG_CLUSTER_SH, "stop", dir}, "/");
        }
      } stop;
    }
  }
  std::string name = "s" + std::to_string(getpid()) + "_" + std::to_string(++next);
  auto made = runCommand({"/usr/bin/psql", "-q", "-X", "postgres://boucle@/postgres?host=" + dir,
                          "-c", "CREATE DATABASE " + name},
                         "/");
  if (made.exitCode != 0) throw std::runtime_error("PostgreSQL: " + made.err);
  return "postgres://boucle@/" + name + "?host=" + dir;
}

ServerProcess::ServerProcess(fs::path data, std::vector<std::string> extraArgs)
    : data_(std::move(data)), extraArgs_(std::move(extraArgs)) {
  const char* db = getenv("BOUCLE_TEST_DB");
  // A data folder whose server ran already knows its database (DATA/database).
  bool chosen = std::find(extraArgs_.begin(), extraArgs_.end(), "--db") != extraArgs_.end() ||
                fs::exists(data_ / "database");
  if (db && std::string_view(db).starts_with("postgres") && !chosen) {
    extraArgs_.insert(extraArgs_.end(), {"--db", newPostgresDatabase()});
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) kill9();
}

std::string ServerProcess::log() const {
  return readFile(data_.string() + ".log");
}

bool ServerProcess::start(std::string* log) {
  fs::path logFile = data_.string() + ".log";
  size_t before = readFile(logFile).size();
  std::vector<std::string> argv{BOUCLE_BIN, "server",
                                "--data",   data_.string(),
                                "--listen", host_ + ":" + std::to_string(listenPort_)};
  argv.insert(argv.end(), extraArgs_.begin(), extraArgs_.end());
  pid_ = spawnLogged(argv, logFile);
  static const std::regex listening(R"(listening on http://[0-9.]+:(\d+))");
  bool up = waitFor([&] {
    std::string text = readFile(logFile).substr(before);
    std::smatch m;
    if (!std::regex_search(text, m, listening)) return false;
    port_ = std::stoi(m[1].str());
    return curl("GET", url() + "/api/health").status == 200;
  });
  if (!up && log) *log = readFile(logFile);
  // The initial admin token's file goes once another admin token exists: kept from the start.
  if (up && token_.empty()) {
    token_ = readFile(data_ / "initial-admin-token");
    while (!token_.empty() && token_.back() == '\n') token_.pop_back();
  }
  return up;
}

void ServerProcess::kill9() {
  ::kill(pid_, SIGKILL);
  waitExit(pid_);
  pid_ = -1;
}

int ServerProcess::stop() {
  ::kill(pid_, SIGTERM);
  int rc = waitExit(pid_);
  pid_ = -1;
  return rc;
}

std::string ServerProcess::token() const {
  return token_;
}

std::vector<std::string> ServerProcess::clientEnv() const {
  return {"BOUCLE_SERVER=" + url(), "BOUCLE_TOKEN=" + token()};
}

std::string Http::header(const std::string& name) const {
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::string want = lower(name) + ":";
  size_t start = 0;
  while (start < headers.size()) {
    size_t end = headers.find('\n', start);
    if (end == std::string::npos) end = headers.size();
    std::string line = headers.substr(start, end - start);
    if (lower(line).rfind(want, 0) == 0) {
      std::string v = line.substr(want.size());
      while (!v.empty() && (v.front() == ' ')) v.erase(0, 1);
      while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.pop_back();
      return v;
    }
    start = end + 1;
  }
  return "";
}

Http curl(const std::string& method, const std::string& url, const std::string& body,
          const std::vector<std::string>& headers) {
  char tmpl[] = "/tmp/boucle-curl-XXXXXX";
  int fd = mkstemp(tmpl);
  ::close(fd);
  fs::path out = tmpl;
  fs::path in = out.string() + ".body";
  fs::path head = out.string() + ".headers";
  std::vector<std::string> argv{"/usr/bin/curl", "-sS", "-o",           out.string(), "-D",
                                head.string(),   "-w",  "%{http_code}", url};
  // HEAD with -I: with -X HEAD curl would wait for the body the length announces.
  if (method == "HEAD") {
    argv.push_back("-I");
  } else {
    argv.insert(argv.end(), {"-X", method});
  }
  for (const auto& h : headers) argv.insert(argv.end(), {"-H", h});
  if (!body.empty()) {
    std::ofstream(in, std::ios::binary) << body;
    argv.insert(argv.end(), {"--data-binary", "@" + in.string()});
  }
  fs::path code = out.string() + ".code";
  pid_t pid = spawnLogged(argv, code);
  waitExit(pid);
  Http h;
  try {
    h.status = std::stoi(readFile(code));
  } catch (...) {
    h.status = 0;
  }
  h.body = method == "HEAD" ? "" : readFile(out);  // -I writes the headers there too
  h.headers = readFile(head);
  fs::remove(head);
  fs::remove(out);
  fs::remove(in);
  fs::remove(code);
  return h;
}

}  // namespace boucle::testing
