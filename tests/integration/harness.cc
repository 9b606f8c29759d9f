#include "harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace boucle::testing {
namespace fs = std::filesystem;

namespace {

pid_t spawn(const std::vector<std::string>& argv, const fs::path& cwd, const fs::path& out,
            const fs::path& err, const std::vector<std::string>& extraEnv) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.insert(env.end(), extraEnv.begin(), extraEnv.end());
  std::vector<char*> a, e;
  for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  for (auto& s : env) e.push_back(const_cast<char*>(s.c_str()));
  e.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, a[0], &fa, nullptr, a.data(), e.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  return pid;
}

void gitIn(const fs::path& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/git", "-C", dir.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = spawn(argv, dir, "/dev/null", "/dev/null", {});
  if (waitExit(pid) != 0) throw std::runtime_error("git " + args[0] + " failed");
}

}  // namespace

Output runCommand(const std::vector<std::string>& argv, const fs::path& cwd,
                  const std::vector<std::string>& extraEnv) {
  char t[] = "/tmp/boucle-out-XXXXXX";
  fs::path dir = mkdtemp(t);
  Output o;
  o.exitCode = waitExit(spawn(argv, cwd, dir / "out", dir / "err", extraEnv));
  o.out = readFile(dir / "out");
  o.err = readFile(dir / "err");
  fs::remove_all(dir);
  return o;
}

pid_t startProcess(const std::vector<std::string>& argv, const fs::path& cwd, const fs::path& log,
                   const std::vector<std::string>& extraEnv) {
  return spawn(argv, cwd, log, log, extraEnv);
}

std::string hmacHex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  std::string out;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    out += buf;
  }
  return out;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool processAlive(pid_t pid) {
  // A zombie has exited: only count processes that are really running.
  std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  auto rp = stat.rfind(')');
  return rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] != 'Z';
}

std::vector<pid_t> processesWithArgument(const std::string& arg) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = readFile(e.path() / "cmdline");
    size_t at = 0;
    while (at < cmdline.size()) {
      size_t end = cmdline.find('\0', at);
      if (end == std::string::npos) end = cmdline.size();
      if (cmdline.compare(at, end - at, arg) == 0) {
        pid_t pid = std::stoi(name);
        if (processAlive(pid)) found.push_back(pid);
        break;
      }
      at = end + 1;
    }
  }
  return found;
}

bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

int waitExit(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TempRepo::TempRepo() {
  char t[] = "/tmp/boucle-it-XXXXXX";
  root_ = mkdtemp(t);
  dir_ = root_ / "project";
  data_ = root_ / "data";
  scratch_ = root_ / "scratch";
  fs::create_directories(dir_);
  fs::create_directories(scratch_);
  gitIn(dir_, {"init", "-q", "-b", "main"});
  gitIn(dir_, {"config", "user.email", "dev@example.com"});
  gitIn(dir_, {"config", "user.name", "Dev"});
}

TempRepo::~TempRepo() {
  std::error_code ec;
  fs::remove_all(root_, ec);
}

void TempRepo::git(const std::vector<std::string>& args) {
  gitIn(dir_, args);
}

void TempRepo::write(const std::string& rel, const std::string& content) {
  fs::create_directories((dir_ / rel).parent_path());
  std::ofstream(dir_ / rel, std::ios::binary) << content;
}

std::string TempRepo::commit(const std::string& message, const std::string& author) {
  gitIn(dir_, {"add", "-A"});
  gitIn(dir_, {"-c", "user.name=" + author, "commit", "-q", "-m", message});
  fs::path out = root_ / "sha.txt";
  pid_t pid =
      spawn({"/usr/bin/git", "-C", dir_.string(), "rev-parse", "HEAD"}, dir_, out, "/dev/null", {});
  waitExit(pid);
  std::string sha = readFile(out);
  while (!sha.empty() && sha.back() == '\n') sha.pop_back();
  return sha;
}

Output TempRepo::boucle(std::vector<std::string> args, const std::vector<std::string>& extraEnv) {
  args.insert(args.begin(), BOUCLE_BIN);
  if (args.size() > 1 && args[1] == "run")
    args.insert(args.begin() + 2, {"--data", data_.string()});
  return runCommand(args, dir_, extraEnv);
}

pid_t TempRepo::startBoucle(std::vector<std::string> args, const fs::path& log) {
  args.insert(args.begin(), {BOUCLE_BIN, "run", "--data", data_.string()});
  return spawn(args, dir_, log, log, {});
}

fs::path TempRepo::runDir(int id) const {
  return data_ / "runs" / dir_.filename() / std::to_string(id);
}

std::string TempRepo::readLog(int run, const std::string& job) const {
  return readFile(runDir(run) / "logs" / (job + ".log"));
}

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

int takeNetworkSlot(int first, int* lockFd) {
  for (int k = (first - 1) % 200 + 1, tries = 0; tries < 200; ++tries, k = k % 200 + 1) {
    std::string lock = "/tmp/boucle-netns-" + std::to_string(k) + ".lock";
    int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      *lockFd = fd;
      return k;
    }
    if (fd >= 0) ::close(fd);
  }
  return 0;
}

}  // namespace boucle::testing
