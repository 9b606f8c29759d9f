#include "store/postgres/bus.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "core/log.h"
#include "store/postgres/pg_connection.h"

namespace boucle::store::postgres {

namespace {
constexpr const char* kChannel = "boucle";
// News waiting while the database is away is kept up to this many, the oldest dropped first:
// what it would have woken looks at the store by itself.
constexpr size_t kMaxQueued = 10000;
}  // namespace

Bus::Bus(std::string url, std::string self) : url_(std::move(url)), self_(std::move(self)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    wake_[0].reset(fds[0]);
    wake_[1].reset(fds[1]);
  }
}

Bus::~Bus() {
  stop();
}

void Bus::start(Heard heard) {
  heard_ = std::move(heard);
  thread_ = std::thread([this] { loop(); });
}

void Bus::stop() {
  stopping_ = true;
  if (wake_[1]) [[maybe_unused]]
    auto n = ::write(wake_[1].get(), "x", 1);
  if (thread_.joinable()) thread_.join();
}

void Bus::tell(std::string news) {
  if (news.size() + self_.size() + 1 > kMaxNews) return;
  {
    std::lock_guard lock(mu_);
    out_.push_back(self_ + " " + std::move(news));
    while (out_.size() > kMaxQueued) out_.pop_front();
  }
  if (wake_[1]) [[maybe_unused]]
    auto n = ::write(wake_[1].get(), "x", 1);
}

// Waits for `fd` (the session; -1: none) or the wake pipe: whether `fd` is readable.
bool Bus::waitOn(int fd, int timeoutMs) {
  pollfd p[2] = {{wake_[0].get(), POLLIN, 0}, {fd, POLLIN, 0}};
  int n = ::poll(p, fd >= 0 ? 2 : 1, timeoutMs);
  char buf[64];
  while (::read(wake_[0].get(), buf, sizeof buf) > 0) {
  }
  return n > 0 && fd >= 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP));
}

void Bus::loop() {
  std::unique_ptr<Listener> session;
  std::string lastError;
  auto lost = [&](const std::string& why) {
    if (why != lastError) logError("servers: news from the others stopped: " + why);
    lastError = why;
    session.reset();
  };
  while (!stopping_) {
    if (!session) {
      auto l = listen(url_, kChannel);
      if (!l.ok()) {
        lost(l.status().message());
        waitOn(-1, 1000);
        continue;
      }
      if (!lastError.empty()) logInfo("servers: hearing the others again");
      lastError.clear();
      session = std::move(l).value();
    }
    waitOn(session->fd(), 1000);
    auto heard = session->take();
    if (!heard.ok()) {
      lost(heard.status().message());
      continue;
    }
    for (const auto& payload : *heard) {
      auto space = payload.find(' ');
      if (space == std::string::npos || payload.compare(0, space, self_) == 0) continue;
      heard_(std::string_view(payload).substr(space + 1));
    }
    std::deque<std::string> out;
    {
      std::lock_guard lock(mu_);
      out.swap(out_);
    }
    for (const auto& news : out) {
      if (auto st = session->notify(news); !st.ok()) {
        // A refused piece is dropped alone; a lost session takes the rest of the batch with it.
        if (st.code() != Code::kIo) continue;
        lost(st.message());
        break;
      }
    }
  }
  // What the server said as it stopped (its runs' agents' jobs cancelled) still goes.
  std::deque<std::string> last;
  {
    std::lock_guard lock(mu_);
    last.swap(out_);
  }
  for (const auto& news : last) {
    if (!session || session->notify(news).code() == Code::kIo) break;
  }
}

}  // namespace boucle::store::postgres
