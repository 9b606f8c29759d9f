#include "monitor/prober.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <list>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <thread>
#include <unordered_map>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/log.h"
#include "monitor/prometheus_answer.h"
#include "os/curl.h"
#include "os/files.h"
#include "os/process.h"

namespace boucle::monitor {

namespace {

using Clock = std::chrono::steady_clock;
using pipeline::MonitorKind;

// What of an answer is kept, per kind: a thousand probes under way at once must not hold a
// thousand large bodies. http keeps a body only to look for `contains`.
constexpr size_t kMaxContainsBody = 256 << 10;
constexpr size_t kMaxQueryBody = 1 << 20;
constexpr size_t kMaxExpositionBody = 2 << 20;
constexpr size_t kMaxOutput = 4096;  // a command's last words, for the detail
constexpr int kMaxWaitMs = 1000;
constexpr std::chrono::milliseconds kBatch{50};  // the loop looks at its clock at least this often

int64_t msBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

// One run under way.
struct Running {
  std::shared_ptr<const Probe> probe;
  std::string key;
  Clock::time_point started;
  // curl's
  CURL* easy = nullptr;
  std::string body;
  size_t maxBody = 0;
  bool truncated = false;
  // a command's
  pid_t pid = -1;
  os::Fd pidfd, out;
  Clock::time_point deadline;
  std::string output;
  bool killed = false;
};

size_t keepBody(char* p, size_t size, size_t n, void* user) {
  auto* r = static_cast<Running*>(user);
  size_t len = size * n;
  if (r->body.size() < r->maxBody) {
    size_t take = std::min(len, r->maxBody - r->body.size());
    r->body.append(p, take);
    if (take < len) r->truncated = true;
  } else {
    r->truncated = true;
  }
  return len;
}

// "host:port" or "[v6]:port", nothing a URL could read otherwise (no user, path or query).
std::optional<std::string> tcpUrl(const std::string& target) {
  auto colon = target.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = target.substr(0, colon), port = target.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  bool v6 = host.size() > 2 && host.front() == '[' && host.back() == ']';
  std::string_view inner = v6 ? std::string_view(host).substr(1, host.size() - 2) : host;
  for (char c : inner) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
              (v6 && (c == ':' || c == '%'));
    if (!ok) return std::nullopt;
  }
  return "http://" + host + ":" + port + "/";
}

// A detail as the API, the log and incident titles show it: one line of printable text, at most
// 500 bytes, cut on a character's boundary.
std::string oneLine(std::string s) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return cutUtf8(std::move(s), 500);
}

struct Slot {
  std::shared_ptr<const Probe> probe;
  Clock::time_point next;
  uint64_t generation = 0;
  bool running = false;
};

struct Due {
  Clock::time_point at;
  std::string key;
  uint64_t generation;
  bool operator>(const Due& o) const { return at > o.at; }
};

}  // namespace

struct Prober::Impl {
  OnResult onResult;
  const os::CurlApi* curl = nullptr;
  CURLM* multi = nullptr;
  std::thread thread;

  std::mutex mu;  // guards pending and stopping
  std::optional<std::vector<Probe>> pending;
  bool stopping = false;

  // The prober thread's own.
  std::unordered_map<std::string, Slot> slots;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due;
  std::list<Running> running;  // stable addresses: curl keeps a pointer to each
  std::mt19937_64 rng{std::random_device{}()};
  uint64_t generations = 0;

  void wake() {
    if (multi) curl->multiWakeup(multi);
  }
  void loop();
  void apply(std::vector<Probe> probes, Clock::time_point now);
  void launch(Slot& slot, const std::string& key, Clock::time_point now);
  void startTransfer(Running& r);
  Status startCommand(Running& r);
  void finishTransfer(Running& r, CURLcode code);
  void pollCommands(Clock::time_point now);
  void report(Running& r, Verdict v, std::string detail, int64_t latencyMs);
  void endAll();
};

Prober::Prober(OnResult onResult) : impl_(std::make_unique<Impl>()) {
  impl_->onResult = std::move(onResult);
}

Prober::~Prober() {
  stop();
}

void Prober::start() {
  auto curl = os::loadCurl();
  if (!curl.ok()) {
    logError("monitors: " + curl.status().message() +
             "; http, tcp and prometheus probes cannot run");
  } else {
    impl_->curl = *curl;
    impl_->multi = impl_->curl->multiInit();
    // Idle keep-alive connections kept for reuse: bounded, as libcurl polls each before a reuse.
    if (impl_->multi) impl_->curl->multiSetopt(impl_->multi, CURLMOPT_MAXCONNECTS, 64L);
  }
  impl_->thread = std::thread([this] { impl_->loop(); });
}

void Prober::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake();
  if (impl_->thread.joinable()) impl_->thread.join();
  if (impl_->multi) {
    impl_->curl->multiCleanup(impl_->multi);
    impl_->multi = nullptr;
  }
}

void Prober::setProbes(std::vector<Probe> probes) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->pending = std::move(probes);
  }
  impl_->wake();
}

void Prober::Impl::apply(std::vector<Probe> probes, Clock::time_point now) {
  std::unordered_map<std::string, Slot> next;
  for (auto& p : probes) {
    std::string key = p.key();
    auto every = p.spec.every;
    auto old = slots.find(key);
    Slot slot;
    if (old != slots.end() && old->second.probe->spec.every == every) {
      slot = old->second;  // keeps its phase
    } else {
      // A random phase in the interval: a thousand probes seen at once do not run at once.
      std::uniform_int_distribution<int64_t> phase(0, std::max<int64_t>(0, every.count() - 1));
      slot.next = now + std::chrono::milliseconds(phase(rng));
      slot.generation = ++generations;
      slot.running = old != slots.end() && old->second.running;
      due.push({slot.next, key, slot.generation});
    }
    slot.probe = std::make_shared<const Probe>(std::move(p));
    next[key] = std::move(slot);
  }
  slots = std::move(next);
}

void Prober::Impl::loop() {
  std::vector<curl_waitfd> extra;
  for (;;) {
    std::optional<std::vector<Probe>> probes;
    {
      std::lock_guard lock(mu);
      if (stopping) break;
      probes.swap(pending);
    }
    auto now = Clock::now();
    if (probes) apply(std::move(*probes), now);

    // Probes due within the next kBatchMs start together: a thousand probes spread over 10 s
    // wake the loop 20 times a second rather than a hundred (each a little early, each keeps
    // its phase).
    while (!due.empty() && due.top().at <= now + kBatch) {
      Due d = due.top();
      due.pop();
      auto it = slots.find(d.key);
      if (it == slots.end() || it->second.generation != d.generation) continue;  // stale
      Slot& slot = it->second;
      auto every = slot.probe->spec.every;
      slot.next = d.at + every;
      if (slot.next <= now) slot.next = now + every;  // a long pause: no burst to catch up
      due.push({slot.next, d.key, slot.generation});
      // One run at a time per probe: a run still under way skips this turn.
      if (!slot.running) launch(slot, d.key, now);
    }

    pollCommands(now);

    if (multi) {
      int still = 0;
      curl->multiPerform(multi, &still);
      int left = 0;
      while (CURLMsg* m = curl->multiInfoRead(multi, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        Running* r = nullptr;
        curl->easyGetinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
        CURLcode code = m->data.result;
        if (r) finishTransfer(*r, code);
      }
    }

    now = Clock::now();
    int64_t wait = kMaxWaitMs;
    if (!due.empty()) {
      wait = std::min(wait, std::max<int64_t>(0, msBetween(now, due.top().at - kBatch)));
    }
    extra.clear();
    bool polling = false;  // a command without a pidfd is looked at every 20 ms
    for (auto& r : running) {
      if (r.pid < 0) continue;
      wait = std::min(wait, std::max<int64_t>(0, msBetween(now, r.deadline)));
      if (r.out) extra.push_back({r.out.get(), CURL_WAIT_POLLIN, 0});
      if (r.pidfd) extra.push_back({r.pidfd.get(), CURL_WAIT_POLLIN, 0});
      if (!r.pidfd) polling = true;
    }
    if (polling) wait = std::min<int64_t>(wait, 20);
    if (multi) {
      curl->multiPoll(multi, extra.data(), static_cast<unsigned>(extra.size()),
                      static_cast<int>(wait), nullptr);
    } else {
      std::vector<pollfd> fds;
      for (const auto& e : extra) fds.push_back({e.fd, POLLIN, 0});
      ::poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(wait, 100)));
    }
  }
  endAll();
}

void Prober::Impl::launch(Slot& slot, const std::string& key, Clock::time_point now) {
  Running& r = running.emplace_back();
  r.probe = slot.probe;
  r.key = key;
  r.started = now;
  slot.running = true;
  if (r.probe->spec.kind == MonitorKind::kCommand) {
    if (auto st = startCommand(r); !st.ok()) report(r, Verdict::kFail, st.message(), 0);
    return;
  }
  if (!multi) return report(r, Verdict::kFail, "libcurl is not available", 0);
  startTransfer(r);
}

void Prober::Impl::startTransfer(Running& r) {
  const auto& spec = r.probe->spec;
  std::string url = spec.target;
  bool connectOnly = spec.kind == MonitorKind::kTcp;
  if (connectOnly) {
    auto u = tcpUrl(spec.target);
    if (!u) return report(r, Verdict::kFail, "not host:port", 0);
    url = *u;
  } else if (spec.kind == MonitorKind::kPrometheus && !spec.query.empty()) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    char* q = curl->easyEscape(nullptr, spec.query.data(), static_cast<int>(spec.query.size()));
    if (!q) return report(r, Verdict::kFail, "cannot encode the query", 0);
    url += "/api/v1/query?query=";
    url += q;
    curl->free(q);
  }
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return report(r, Verdict::kFail, "not an http:// or https:// URL", 0);
  }
  if (spec.kind == MonitorKind::kHttp) {
    r.maxBody = spec.expectContains.empty() ? 0 : kMaxContainsBody;
  } else if (spec.kind == MonitorKind::kPrometheus) {
    r.maxBody = spec.query.empty() ? kMaxExpositionBody : kMaxQueryBody;
  }
  r.easy = curl->easyInit();
  if (!r.easy) return report(r, Verdict::kFail, "curl_easy_init failed", 0);
  long timeout = static_cast<long>(std::max<int64_t>(1, spec.timeout.count()));
  curl->easySetopt(r.easy, CURLOPT_URL, url.c_str());
  // http and https only (the URL's scheme is checked above too, whatever libcurl knows).
  curl->easySetopt(r.easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl->easySetopt(r.easy, CURLOPT_NOSIGNAL, 1L);
  curl->easySetopt(r.easy, CURLOPT_TIMEOUT_MS, timeout);
  curl->easySetopt(r.easy, CURLOPT_PRIVATE, &r);
  curl->easySetopt(r.easy, CURLOPT_USERAGENT, "boucle-monitor");
  curl->easySetopt(r.easy, CURLOPT_WRITEFUNCTION, keepBody);
  curl->easySetopt(r.easy, CURLOPT_WRITEDATA, &r);
  if (connectOnly) {
    // A connection of its own, opened and closed: whether the port accepts, nothing sent.
    curl->easySetopt(r.easy, CURLOPT_CONNECT_ONLY, 1L);
    curl->easySetopt(r.easy, CURLOPT_FRESH_CONNECT, 1L);
    curl->easySetopt(r.easy, CURLOPT_FORBID_REUSE, 1L);
  }
  if (curl->multiAddHandle(multi, r.easy) != CURLM_OK) {
    curl->easyCleanup(r.easy);
    r.easy = nullptr;
    report(r, Verdict::kFail, "cannot start the transfer", 0);
  }
}

void Prober::Impl::finishTransfer(Running& r, CURLcode code) {
  const auto& spec = r.probe->spec;
  curl_off_t micros = 0;
  curl->easyGetinfo(r.easy, CURLINFO_TOTAL_TIME_T, &micros);
  long status = 0;
  curl->easyGetinfo(r.easy, CURLINFO_RESPONSE_CODE, &status);
  curl->multiRemoveHandle(multi, r.easy);
  curl->easyCleanup(r.easy);
  r.easy = nullptr;
  int64_t ms = micros > 0 ? micros / 1000 : msBetween(r.started, Clock::now());
  if (code != CURLE_OK) {
    std::string why = code == CURLE_OPERATION_TIMEDOUT
                          ? "no answer within " + std::to_string(spec.timeout.count()) + " ms"
                          : curl->easyStrerror(code);
    return report(r, Verdict::kFail, why, ms);
  }
  if (spec.kind == MonitorKind::kTcp) {
    return report(r, Verdict::kPass, "open, " + std::to_string(ms) + " ms", ms);
  }
  std::string seen = "HTTP " + std::to_string(status) + " in " + std::to_string(ms) + " ms";
  if (spec.kind == MonitorKind::kPrometheus) {
    if (!spec.query.empty()) {
      if (status != 200 && (status < 400 || status >= 600 || r.body.empty()))
        return report(r, Verdict::kFail, seen, ms);
      if (r.truncated) return report(r, Verdict::kFail, "the answer is over 1 MiB", ms);
      auto j = judgeQuery(r.body, spec.below, spec.above);
      return report(r, j.verdict, j.detail, ms);
    }
    if (status != 200) return report(r, Verdict::kFail, seen + ", expected 200", ms);
    if (r.truncated)
      r.body.resize(r.body.rfind('\n') == std::string::npos ? 0 : r.body.rfind('\n'));
    auto j = judgeExposition(r.body);
    return report(r, j.verdict, seen + ", " + j.detail, ms);
  }
  if (status != spec.expectStatus) {
    return report(r, Verdict::kFail, seen + ", expected " + std::to_string(spec.expectStatus), ms);
  }
  if (!spec.expectContains.empty() && r.body.find(spec.expectContains) == std::string::npos) {
    return report(r, Verdict::kFail, seen + ", the body lacks \"" + spec.expectContains + "\"", ms);
  }
  if (spec.expectWithin && ms > spec.expectWithin->count()) {
    return report(r, Verdict::kFail,
                  seen + ", slower than " + std::to_string(spec.expectWithin->count()) + " ms", ms);
  }
  report(r, Verdict::kPass, seen, ms);
}

Status Prober::Impl::startCommand(Running& r) {
  // The command reaches the shell on a descriptor, its values in the environment: neither
  // shows on a command line.
  auto script = os::sealedText(r.probe->spec.target);
  if (!script.ok()) return script.status();
  int fds[2];
  if (auto st = os::makeOutputPipe(fds); !st.ok()) return st;
  os::Fd readEnd(fds[0]), writeEnd(fds[1]);
  os::SpawnSpec spec;
  spec.argv = {"/bin/sh", "-e", "/dev/fd/3"};
  spec.env = r.probe->environ;
  spec.cwd = r.probe->cwd;
  spec.outputFd = writeEnd.get();
  spec.fd3 = script->get();
  auto pid = os::spawnProcess(spec);
  writeEnd.reset();
  if (!pid.ok()) return pid.status();
  ::fcntl(readEnd.get(), F_SETFL, ::fcntl(readEnd.get(), F_GETFL) | O_NONBLOCK);
  r.pid = *pid;
  r.out = std::move(readEnd);
  r.pidfd = os::Fd(static_cast<int>(::syscall(SYS_pidfd_open, *pid, 0)));
  r.deadline = r.started + r.probe->spec.timeout;
  return Status::Ok();
}

void Prober::Impl::pollCommands(Clock::time_point now) {
  for (auto it = running.begin(); it != running.end();) {
    Running& r = *it++;  // report() erases r
    if (r.pid < 0) continue;
    char buf[4096];
    // At most 64 KiB a turn: a command that writes without pause (`yes`) must not hold the
    // loop, and still meets its timeout.
    for (int reads = 0; r.out && reads < 16; ++reads) {
      ssize_t got = ::read(r.out.get(), buf, sizeof buf);
      if (got > 0) {
        r.output.append(buf, static_cast<size_t>(got));
        if (r.output.size() > 2 * kMaxOutput) r.output.erase(0, r.output.size() - kMaxOutput);
        continue;
      }
      if (got == 0) r.out.reset();  // closed: nothing more to read
      break;
    }
    int status = 0;
    if (::waitpid(r.pid, &status, WNOHANG) != r.pid) {
      if (!r.killed && now >= r.deadline) {
        r.killed = true;
        ::kill(-r.pid, SIGKILL);
      }
      continue;
    }
    // What it left running in its group goes with it: a probe leaves nothing behind.
    ::kill(-r.pid, SIGKILL);
    r.pid = -1;
    int64_t ms = msBetween(r.started, Clock::now());
    // Masked whole before the tail is cut, so a secret split by the cut is still caught.
    if (r.probe->masker) r.output = r.probe->masker->mask(r.output);
    std::string tail = r.output.substr(r.output.size() > 300 ? r.output.size() - 300 : 0);
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::string detail =
        r.killed ? "did not finish within " + std::to_string(r.probe->spec.timeout.count()) + " ms"
                 : "exit " + std::to_string(code);
    if (!tail.empty()) detail += ": " + tail;
    report(r, !r.killed && code == 0 ? Verdict::kPass : Verdict::kFail, detail, ms);
  }
}

void Prober::Impl::report(Running& r, Verdict v, std::string detail, int64_t latencyMs) {
  ProbeResult result;
  result.verdict = v;
  result.atMs = nowMs();
  result.latencyMs = latencyMs;
  result.detail = oneLine(r.probe->masker ? r.probe->masker->mask(detail) : std::move(detail));
  if (auto it = slots.find(r.key); it != slots.end()) it->second.running = false;
  auto probe = r.probe;
  for (auto it = running.begin(); it != running.end(); ++it) {
    if (&*it == &r) {
      running.erase(it);
      break;
    }
  }
  onResult(*probe, result);
}

void Prober::Impl::endAll() {
  for (auto& r : running) {
    if (r.easy) {
      curl->multiRemoveHandle(multi, r.easy);
      curl->easyCleanup(r.easy);
    }
    if (r.pid > 0) {
      ::kill(-r.pid, SIGKILL);
      ::waitpid(r.pid, nullptr, 0);
    }
  }
  running.clear();
}

// New lines part the pieces: a name may hold '/' or '@', never a new line.
std::string Probe::key() const {
  return project + "\n" + env + "\n" + monitor + "\n" + host;
}

std::string Probe::describe() const {
  return project + "/" + env + "/" + monitor + (host.empty() ? "" : "@" + host);
}

std::string Probe::fingerprint() const {
  return "monitor:" + env + "\n" + monitor + (host.empty() ? "" : "\n" + host);
}

}  // namespace boucle::monitor
