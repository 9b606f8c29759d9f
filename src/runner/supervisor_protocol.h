#pragma once
// The wire format between the engine and boucle-supervise, shared by both programs (plain
// libc + std::string only: the supervisor is a small static program).
//
// One supervisor serves one job at a time and is reused for the next one, so a job costs one
// process creation, not two. The engine talks to it over a SOCK_STREAM socketpair (fd 3 in the
// supervisor); every message is a frame: u32 length, then `length` bytes, the first of which
// is the message type.
//
//   engine -> supervisor
//     'R' run:   u32 grace_ms, str cwd, u32 argc, str argv..., u32 envc, str env...,
//                str cgroup (a cgroup v2 folder the job is placed in before it execs, or "")
//                + with SCM_RIGHTS, the job's output descriptor (stdout and stderr), and
//                optionally one more the job finds as descriptor 3 (its stdin is /dev/null)
//     'T' terminate the running job: SIGTERM to all its processes, SIGKILL after grace_ms;
//                a second 'T' skips what is left of the grace period
//   supervisor -> engine
//     'H' hello: u32 protocol version, sent once at start
//     'S' started: i32 pid of the job's main process (leader of its own process group)
//     'E' error:   str message (the job could not be started; no 'X' follows)
//     'X' exited:  i32 wait status of the main process, sent once every process of the job
//                  is gone
//   str = u32 length + bytes. Integers are in host byte order (same machine).
//
// When the engine goes away (its end of the socket closes), the supervisor ends the running
// job the same way as for 'T', then exits.

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace boucle::runner::wire {

inline constexpr uint32_t kProtocolVersion = 4;
inline constexpr uint32_t kMaxFrame = 16u << 20;  // argv+env of one job; refuses garbage
inline constexpr int kSupervisorFd = 3;

class Writer {
 public:
  explicit Writer(char type) { buf_.push_back(type); }
  Writer& u32(uint32_t v) { return raw(&v, sizeof v); }
  Writer& i32(int32_t v) { return raw(&v, sizeof v); }
  Writer& str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    buf_.append(s);
    return *this;
  }
  const std::string& payload() const { return buf_; }

 private:
  Writer& raw(const void* p, size_t n) {
    buf_.append(static_cast<const char*>(p), n);
    return *this;
  }
  std::string buf_;
};

class Reader {
 public:
  explicit Reader(std::string_view p) : p_(p) {}
  char type() const { return p_.empty() ? '\0' : p_[0]; }
  bool u32(uint32_t& v) { return raw(&v, sizeof v); }
  bool i32(int32_t& v) { return raw(&v, sizeof v); }
  bool str(std::string& s) {
    uint32_t n;
    if (!u32(n) || at_ + n > p_.size()) return false;
    s.assign(p_.substr(at_, n));
    at_ += n;
    return true;
  }

 private:
  bool raw(void* v, size_t n) {
    if (at_ + n > p_.size()) return false;
    std::memcpy(v, p_.data() + at_, n);
    at_ += n;
    return true;
  }
  std::string_view p_;
  size_t at_ = 1;  // after the type byte
};

// Sends one frame, optionally with one or two descriptors. Returns false on error (errno set).
inline bool sendFrame(int sock, const std::string& payload, int fd = -1, int fd2 = -1) {
  uint32_t len = static_cast<uint32_t>(payload.size());
  iovec iov[2] = {{&len, sizeof len}, {const_cast<char*>(payload.data()), payload.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
  if (fd >= 0) {
    int fds[2] = {fd, fd2};
    size_t n = fd2 >= 0 ? 2 : 1;
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds, n * sizeof(int));
  }
  size_t total = sizeof len + payload.size(), sent = 0;
  while (sent < total) {
    ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    sent += static_cast<size_t>(n);
    // Continue with whatever the kernel did not take; the descriptor went with the first part.
    msg.msg_control = nullptr;
    msg.msg_controllen = 0;
    size_t skip = static_cast<size_t>(n);
    while (msg.msg_iovlen > 0 && skip >= msg.msg_iov[0].iov_len) {
      skip -= msg.msg_iov[0].iov_len;
      ++msg.msg_iov;
      --msg.msg_iovlen;
    }
    if (msg.msg_iovlen > 0) {
      msg.msg_iov[0].iov_base = static_cast<char*>(msg.msg_iov[0].iov_base) + skip;
      msg.msg_iov[0].iov_len -= skip;
    }
  }
  return true;
}

// Reads one whole frame (blocking). Returns false at EOF or on error; `*fd` and `*fd2` receive
// the passed descriptors (close-on-exec) or -1.
inline bool recvFrame(int sock, std::string& payload, int* fd = nullptr, int* fd2 = nullptr) {
  if (fd) *fd = -1;
  if (fd2) *fd2 = -1;
  uint32_t len = 0;
  size_t got = 0;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
  while (got < sizeof len) {
    iovec iov{reinterpret_cast<char*>(&len) + got, sizeof len - got};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      int got[2] = {-1, -1};
      std::memcpy(got, CMSG_DATA(c), std::min<size_t>(n, 2) * sizeof(int));
      // Unwanted descriptors are closed rather than leaked.
      if (fd)
        *fd = got[0];
      else if (got[0] >= 0)
        ::close(got[0]);
      if (n > 1) {
        if (fd2)
          *fd2 = got[1];
        else
          ::close(got[1]);
      }
    }
    got += static_cast<size_t>(n);
  }
  if (len == 0 || len > kMaxFrame) return false;
  payload.resize(len);
  got = 0;
  while (got < len) {
    ssize_t n = ::read(sock, payload.data() + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace boucle::runner::wire
