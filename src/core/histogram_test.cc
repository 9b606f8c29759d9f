#include "core/histogram.h"

#include <gtest/gtest.h>

namespace boucle {
namespace {

TEST(Histogram, CountsEachObservationInItsBucketAndEveryWiderOne) {
  HistogramFamily h({0.1, 1, 10}, {"project"});
  h.observe({"web"}, 0.05);
  h.observe({"web"}, 1);  // a bound is inclusive: le="1" counts it
  h.observe({"web"}, 3);
  h.observe({"web"}, 50);
  h.observe({"api"}, 0.5);
  auto s = h.snapshot();
  ASSERT_EQ(s.size(), 2u);
  const auto& web = s.at({"web"});
  EXPECT_EQ(web.cumulative, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(web.count, 4u);
  EXPECT_DOUBLE_EQ(web.sum, 54.05);
  EXPECT_EQ(s.at({"api"}).cumulative, (std::vector<uint64_t>{0, 1, 1, 1}));
}

}  // namespace
}  // namespace boucle
