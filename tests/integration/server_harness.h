#pragma once
// A real `boucle server` on a free loopback port, in a temp data directory.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace boucle::testing {

class ServerProcess {
 public:
  explicit ServerProcess(std::filesystem::path data, std::vector<std::string> extraArgs = {});
  ~ServerProcess();
  // Listens on `address` rather than 127.0.0.1, on `port` (0: a free one); before start().
  void listenOn(std::string address, int port = 0) {
    host_ = std::move(address);
    listenPort_ = port;
  }
  // Starts and waits until /api/health answers; returns false (with the log) on failure.
  bool start(std::string* log);
  void kill9();
  int stop();  // SIGTERM, returns the exit code
  int port() const { return port_; }
  std::string url() const { return "http://" + host_ + ":" + std::to_string(port_); }
  std::string token() const;
  std::vector<std::string> clientEnv() const;  // BOUCLE_SERVER and BOUCLE_TOKEN
  std::string log() const;
  const std::filesystem::path& data() const { return data_; }

 private:
  std::filesystem::path data_;
  std::vector<std::string> extraArgs_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string host_ = "127.0.0.1";
  int listenPort_ = 0;
  std::string token_;
};

// A new empty database on a real PostgreSQL server: the one ctest started (BOUCLE_TEST_PG names
// its folder, as does BOUCLE_TEST_DB=postgres:DIR), or one this process starts at the first call
// and stops at its end. With BOUCLE_TEST_DB=postgres[:DIR], every ServerProcess not given a
// --db runs on a database of its own.
std::string newPostgresDatabase();

struct Http {
  int status = 0;
  std::string body;
  std::string headers;  // the response's header block, as received
  // A response header's value ("" when absent); `name` in any case.
  std::string header(const std::string& name) const;
};
// curl, as an outside client would; `headers` are "Name: value".
Http curl(const std::string& method, const std::string& url, const std::string& body = "",
          const std::vector<std::string>& headers = {});

}  // namespace boucle::testing
