#include "deploy/target.h"

#include <gtest/gtest.h>

namespace boucle::deploy {
namespace {

TEST(Hosts, ReadFromTheEnvironmentsValue) {
  auto hosts = parseHosts("web1 deploy@10.0.0.2:2222,\nweb3:22");
  ASSERT_TRUE(hosts.ok()) << hosts.status().message();
  ASSERT_EQ(hosts->size(), 3u);
  EXPECT_EQ((*hosts)[0].address, "web1");
  EXPECT_EQ((*hosts)[0].port, 0);
  EXPECT_EQ((*hosts)[1].name, "deploy@10.0.0.2:2222");
  EXPECT_EQ((*hosts)[1].user, "deploy");
  EXPECT_EQ((*hosts)[1].address, "10.0.0.2");
  EXPECT_EQ((*hosts)[1].port, 2222);
  EXPECT_EQ((*hosts)[2].port, 22);
  EXPECT_TRUE(parseHosts("  ")->empty());
}

TEST(Hosts, RefuseWhatSshWouldReadAsAnOptionOrAShell) {
  for (const char* bad : {"-oProxyCommand=touch", "web:0", "web:99999", "web:x", "a@", "@web",
                          "we$b", "web;id", "web web"}) {
    EXPECT_FALSE(parseHosts(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace boucle::deploy
