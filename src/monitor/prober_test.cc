// The prober with real processes and a real socket: a command that never stops writing still
// meets its timeout, what a command leaves running is ended with it, secrets are masked in
// what it says, and a refused port fails its tcp probe.
#include "monitor/prober.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

namespace boucle::monitor {
namespace {

class ProberTest : public ::testing::Test {
 protected:
  ProberTest()
      : prober_([this](const Probe& p, const ProbeResult& r) {
          std::lock_guard lock(mu_);
          results_.emplace_back(p.monitor, r);
          cv_.notify_all();
        }) {}
  void SetUp() override { prober_.start(); }
  void TearDown() override { prober_.stop(); }
  static Probe command(const std::string& name, const std::string& text, int timeoutMs) {
    Probe p;
    p.project = "web";
    p.env = "prod";
    p.monitor = name;
    p.spec.kind = pipeline::MonitorKind::kCommand;
    p.spec.target = text;
    p.spec.every = std::chrono::seconds(2);
    p.spec.timeout = std::chrono::milliseconds(timeoutMs);
    p.environ = {"PATH=/usr/bin:/bin", "TOKEN=tok-9f8e7d6c5b"};
    p.cwd = "/";
    p.masker = std::make_shared<const runner::Masker>(std::vector<std::string>{"tok-9f8e7d6c5b"});
    return p;
  }
  // The first result of `name`, waiting up to 10 s for it.
  std::optional<ProbeResult> first(const std::string& name) {
    std::unique_lock lock(mu_);
    std::optional<ProbeResult> found;
    cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      for (const auto& [n, r] : results_) {
        if (n == name) found = r;
      }
      return found.has_value();
    });
    return found;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, ProbeResult>> results_;
  Prober prober_;
};

TEST_F(ProberTest, CommandsAreJudgedByTheirExitMaskedAndCutAtTheirTimeout) {
  std::string marker = "/tmp/boucle-prober-" + std::to_string(::getpid());
  std::vector<Probe> probes;
  probes.push_back(command("flood", "yes", 500));
  probes.push_back(command("ok", "echo \"token $TOKEN fine\"", 2000));
  probes.push_back(command("bad", "echo broken; exit 3", 2000));
  // Leaves a process behind that would write the marker a second later.
  probes.push_back(command("orphan", "(sleep 1; touch " + marker + ") & exit 0", 2000));
  prober_.setProbes(std::move(probes));

  auto flood = first("flood");
  ASSERT_TRUE(flood);
  EXPECT_EQ(flood->verdict, Verdict::kFail);
  EXPECT_NE(flood->detail.find("did not finish within 500 ms"), std::string::npos) << flood->detail;
  EXPECT_LE(flood->detail.size(), 500u);
  auto ok = first("ok");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->verdict, Verdict::kPass);
  EXPECT_EQ(ok->detail, "exit 0: token *** fine");
  auto bad = first("bad");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->verdict, Verdict::kFail);
  EXPECT_EQ(bad->detail, "exit 3: broken");
  ASSERT_TRUE(first("orphan"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(std::filesystem::exists(marker)) << "a probe's background process outlived it";
  std::filesystem::remove(marker);
}

TEST_F(ProberTest, ARefusedPortAndABadUrlFail) {
  // A port bound and never listened on refuses connections.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  Probe tcp = command("tcp", "", 1000);
  tcp.spec.kind = pipeline::MonitorKind::kTcp;
  tcp.spec.target = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  Probe file = command("file", "", 1000);
  file.spec.kind = pipeline::MonitorKind::kHttp;
  file.spec.target = "file:///etc/passwd";
  Probe word = command("word", "", 1000);
  word.spec.kind = pipeline::MonitorKind::kTcp;
  word.spec.target = "user@host:80/x";
  prober_.setProbes({tcp, file, word});
  auto refused = first("tcp");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->verdict, Verdict::kFail);
  auto notHttp = first("file");
  ASSERT_TRUE(notHttp);
  EXPECT_EQ(notHttp->detail, "not an http:// or https:// URL");
  auto notHostPort = first("word");
  ASSERT_TRUE(notHostPort);
  EXPECT_EQ(notHostPort->detail, "not host:port");
  ::close(s);
}

}  // namespace
}  // namespace boucle::monitor
