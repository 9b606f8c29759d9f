#include "api/request_target.h"

#include <boost/url/parse.hpp>

namespace boucle::api {

bool parseTarget(std::string_view target, Request& req) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return false;
  req.path = parsed->path();
  for (auto seg : parsed->segments()) req.segments.push_back(seg);
  for (auto param : parsed->params()) req.query[param.key] = param.value;
  return true;
}

}  // namespace boucle::api
