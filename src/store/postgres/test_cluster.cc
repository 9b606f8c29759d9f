#include "store/postgres/test_cluster.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>

#include "os/process.h"
#include "store/postgres/pg_connection.h"

namespace boucle::store::postgres {

namespace {

namespace fs = std::filesystem;

class Cluster {
 public:
  Cluster() {
    if (const char* shared = getenv("BOUCLE_TEST_PG"); shared && *shared) {
      dir_ = shared;
    } else {
      char t[] = "/tmp/boucle-pg-XXXXXX";
      if (!mkdtemp(t)) {
        error_ = "mkdtemp failed";
        return;
      }
      dir_ = t;
      owned_ = true;
      auto r = os::runAndCapture({PG_CLUSTER_SH, "start", dir_});
      if (!r.ok() || r->exitCode != 0)
        error_ = "cannot start PostgreSQL: " + (r.ok() ? r->output : r.status().message());
    }
  }
  ~Cluster() {
    if (owned_) (void)os::runAndCapture({PG_CLUSTER_SH, "stop", dir_});
  }

  Result<std::string> newDatabase() {
    if (!error_.empty()) return Status::Io(error_);
    auto admin = open(url("postgres"));
    if (!admin.ok()) return admin.status();
    std::string name =
        "t" + std::to_string(getpid()) + "_" + std::to_string(next_.fetch_add(1) + 1);
    if (auto st = (*admin)->exec("CREATE DATABASE " + name); !st.ok()) return st;
    return url(name);
  }

 private:
  std::string url(const std::string& db) const {
    return "postgres://boucle@/" + db + "?host=" + dir_;
  }
  std::string dir_;
  bool owned_ = false;
  std::string error_;
  std::atomic<int> next_{0};
};

}  // namespace

Result<std::string> newTestDatabase() {
  static Cluster cluster;
  return cluster.newDatabase();
}

}  // namespace boucle::store::postgres
