#include "deploy/smoke.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "deploy/step.h"
#include "os/curl.h"
#include "os/files.h"
#include "os/process.h"

namespace boucle::deploy {

namespace {

using Clock = std::chrono::steady_clock;

int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

SmokeResult httpCheck(const pipeline::SmokeCheck& c, const std::string& url) {
  SmokeResult r{"http " + url, false, "", 0};
  auto start = Clock::now();
  auto answer = os::httpGet(url, static_cast<long>(c.within.count()));
  r.ms = msSince(start);
  if (!answer.ok()) {
    r.detail = answer.status().message();
    return r;
  }
  r.detail = "HTTP " + std::to_string(answer->status) + " in " + std::to_string(r.ms) + " ms";
  if (answer->status != c.expectStatus) {
    r.detail += ", expected " + std::to_string(c.expectStatus);
    return r;
  }
  if (!c.expectContains.empty() && answer->body.find(c.expectContains) == std::string::npos) {
    r.detail += ", the body lacks \"" + c.expectContains + "\"";
    return r;
  }
  r.ok = true;
  return r;
}

SmokeResult tcpCheck(const pipeline::SmokeCheck& c, const std::string& target) {
  SmokeResult r{"tcp " + target, false, "", 0};
  auto colon = target.rfind(':');
  if (colon == std::string::npos) {
    r.detail = "not host:port";
    return r;
  }
  std::string host = target.substr(0, colon), port = target.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto start = Clock::now();
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    r.detail = std::string("cannot resolve: ") + ::gai_strerror(rc);
    return r;
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(found, ::freeaddrinfo);
  r.detail = "no address";
  for (addrinfo* a = found; a; a = a->ai_next) {
    os::Fd s(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!s) continue;
    int rc = ::connect(s.get(), a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{s.get(), POLLOUT, 0};
      int left = static_cast<int>(c.within.count() - msSince(start));
      rc = ::poll(&p, 1, std::max(left, 0)) == 1 ? 0 : -1;
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 0) ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (rc != 0) {
        r.detail = "no answer within " + std::to_string(c.within.count()) + " ms";
        continue;
      }
      if (err != 0) {
        r.detail = std::strerror(err);
        continue;
      }
    } else if (rc != 0) {
      r.detail = std::strerror(errno);
      continue;
    }
    r.ms = msSince(start);
    r.ok = true;
    r.detail = "open, " + std::to_string(r.ms) + " ms";
    return r;
  }
  r.ms = msSince(start);
  return r;
}

SmokeResult commandCheck(const pipeline::SmokeCheck& c, const std::string& command,
                         const std::filesystem::path& cwd, const std::vector<std::string>& env,
                         const CommandRunner& remote) {
  SmokeResult r{"command " + command, false, "", 0};
  auto start = Clock::now();
  // The command runs with exactly the deploy's environment, its text read from a descriptor:
  // neither the values nor the command show on a command line.
  int secs = static_cast<int>(std::max<int64_t>(1, (c.within.count() + 999) / 1000));
  std::string seconds = std::to_string(secs);
  Result<os::CaptureResult> out = Status::Internal("not run");
  if (remote) {
    out = remote(command, secs);
  } else {
    StepRun run;
    auto script = shellScript(run, command);
    os::CaptureResult captured;
    run.cwd = cwd;
    run.env = env;
    run.timeout = std::chrono::seconds(secs);
    run.capture = &captured.output;
    run.exitCode = &captured.exitCode;
    run.logOutput = false;
    NullSink quiet;
    Status st = script.ok() ? runLogged(run, quiet) : script.status();
    if (st.code() == Code::kTimeout) captured.exitCode = 124;
    if (script.ok())
      out = captured;
    else
      out = script.status();
  }
  r.ms = msSince(start);
  if (!out.ok()) {
    r.detail = out.status().message();
    return r;
  }
  std::string tail = out->output.substr(out->output.size() > 300 ? out->output.size() - 300 : 0);
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  r.ok = out->exitCode == 0;
  r.detail = out->exitCode == 124 ? "did not finish within " + seconds + " s"
                                  : "exit " + std::to_string(out->exitCode);
  if (!tail.empty()) r.detail += ": " + tail;
  return r;
}

}  // namespace

SmokeResult runSmokeCheck(const pipeline::SmokeCheck& check, const std::string& target,
                          const std::filesystem::path& cwd, const std::vector<std::string>& env,
                          const CommandRunner& remote) {
  SmokeResult r;
  for (int attempt = 0; attempt <= check.retries; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::seconds(1));
    switch (check.kind) {
      case pipeline::CheckKind::kHttp:
        r = httpCheck(check, target);
        break;
      case pipeline::CheckKind::kTcp:
        r = tcpCheck(check, target);
        break;
      case pipeline::CheckKind::kCommand:
        r = commandCheck(check, target, cwd, env, remote);
        break;
    }
    if (r.ok) break;
  }
  return r;
}

}  // namespace boucle::deploy
