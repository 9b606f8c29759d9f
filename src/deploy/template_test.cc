#include "deploy/template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace boucle::deploy {
namespace {

using ::testing::HasSubstr;

TEST(Template, RendersDottedNamesWithoutEscaping) {
  auto out = renderTemplate(
      "port={{ env.port }}\nurl={{env.url}}/x?a=1&b=2\nv={{ release.version }} {{{ env.url }}}",
      {{"env.port", "8081"}, {"env.url", "http://h:1"}, {"release.version", "1.2.0"}}, "t");
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "port=8081\nurl=http://h:1/x?a=1&b=2\nv=1.2.0 http://h:1");
}

TEST(Template, AMissingValueIsAnErrorNamingIt) {
  auto out = renderTemplate("listen {{ env.port }}", {{"env.url", "x"}}, "deploy/app.conf");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "deploy/app.conf: no value for {{ env.port }}");
}

TEST(Template, ValuesAreNotTemplatesThemselves) {
  auto out = renderTemplate("{{ env.a }}", {{"env.a", "{{ env.b }}"}, {"env.b", "no"}}, "t");
  EXPECT_EQ(*out, "{{ env.b }}");
  EXPECT_FALSE(renderTemplate("{{#env}}x", {}, "t").ok()) << "unclosed section";
}

}  // namespace
}  // namespace boucle::deploy
