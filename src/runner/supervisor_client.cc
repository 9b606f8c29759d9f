#include "runner/supervisor_client.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os/process.h"
#include "runner/supervisor_protocol.h"

namespace boucle::runner {

Result<std::filesystem::path> supervisorPath() {
  if (const char* env = std::getenv("BOUCLE_SUPERVISOR"); env && *env) return {env};
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return errnoStatus("cannot find the boucle executable", ec.value());
  for (auto candidate : {self.parent_path() / "boucle-supervise",
                         self.parent_path().parent_path() / "libexec/boucle/boucle-supervise"}) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return Status::NotFound("boucle-supervise is missing beside " + self.string() +
                          " (it must be installed with boucle)");
}

Result<std::unique_ptr<SupervisorClient>> SupervisorClient::start(
    const std::filesystem::path& program) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return errnoStatus("socketpair", errno);
  }
  os::SpawnSpec spec;
  spec.argv = {program.string()};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.fd3 = sv[1];
  auto pid = os::spawnProcess(spec);
  ::close(sv[1]);
  if (!pid.ok()) {
    ::close(sv[0]);
    return pid.status();
  }
  std::unique_ptr<SupervisorClient> c(new SupervisorClient(*pid, sv[0]));
  std::string hello;
  uint32_t version = 0;
  bool ok = wire::recvFrame(sv[0], hello);
  wire::Reader r(hello);
  if (!ok || r.type() != 'H' || !r.u32(version) || version != wire::kProtocolVersion) {
    c->broken_ = true;
    return Status::Internal(program.string() + " did not start properly (wrong version?)");
  }
  return c;
}

SupervisorClient::~SupervisorClient() {
  ::close(sock_);  // the supervisor sees EOF, ends any job left and exits
  int st;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
}

Status SupervisorClient::request(Millis grace, const std::filesystem::path& cwd,
                                 const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env, int outputFd,
                                 const std::filesystem::path& cgroup, int extraFd) {
  wire::Writer w('R');
  w.u32(static_cast<uint32_t>(grace.count()))
      .str(cwd.string())
      .u32(static_cast<uint32_t>(argv.size()));
  for (const auto& a : argv) w.str(a);
  w.u32(static_cast<uint32_t>(env.size()));
  for (const auto& e : env) w.str(e);
  w.str(cgroup.string());
  if (w.payload().size() > wire::kMaxFrame) {
    return Status::Invalid("the job's command and environment are larger than 16 MiB");
  }
  if (!wire::sendFrame(sock_, w.payload(), outputFd, extraFd)) {
    broken_ = true;
    return Status::Internal("the job supervisor stopped answering");
  }
  return Status::Ok();
}

Result<pid_t> SupervisorClient::started() {
  std::string answer;
  if (!wire::recvFrame(sock_, answer)) {
    broken_ = true;
    return Status::Internal("the job supervisor stopped answering");
  }
  wire::Reader r(answer);
  if (r.type() == 'S') {
    int32_t pid = 0;
    if (r.i32(pid)) return static_cast<pid_t>(pid);
  } else if (r.type() == 'E') {
    std::string msg;
    if (r.str(msg)) return Status::Invalid(msg);
  }
  broken_ = true;
  return Status::Internal("unexpected answer from the job supervisor");
}

void SupervisorClient::terminate() {
  if (!wire::sendFrame(sock_, wire::Writer('T').payload())) broken_ = true;
}

Result<int> SupervisorClient::readExit() {
  std::string frame;
  int32_t status = 0;
  if (wire::recvFrame(sock_, frame)) {
    wire::Reader r(frame);
    if (r.type() == 'X' && r.i32(status)) return static_cast<int>(status);
  }
  broken_ = true;
  return Status::Internal("the job supervisor died");
}

void SupervisorClient::kill(pid_t jobPid) {
  if (jobPid > 0) ::kill(-jobPid, SIGKILL);
  ::kill(pid_, SIGKILL);
  broken_ = true;
}

}  // namespace boucle::runner
