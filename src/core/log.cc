#include "core/log.h"

#include <cstdio>
#include <ctime>
#include <mutex>

namespace boucle {

namespace {
std::mutex gMu;  // guards stderr: one whole line at a time

void emit(const char* level, std::string_view message) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &t);
  std::lock_guard lock(gMu);
  std::fprintf(stderr, "%s.%03ldZ %s %.*s\n", stamp, ts.tv_nsec / 1000000, level,
               static_cast<int>(message.size()), message.data());
}
}  // namespace

void logInfo(std::string_view message) {
  emit("info ", message);
}
void logError(std::string_view message) {
  emit("error", message);
}

}  // namespace boucle
